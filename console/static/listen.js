// Live-listen: WebSocket of 8 kHz mu-law chunks -> Float32 -> AudioWorklet jitter buffer.
const ULAW = new Float32Array(256);
for (let i = 0; i < 256; i++) {
  const u = ~i & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  ULAW[i] = ((u & 0x80) ? (0x84 - t) : (t - 0x84)) / 32768;
}

export function decodeUlaw(bytes) {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = ULAW[bytes[i]];
  return out;
}

export class Listener {
  // One listening session; `capture` keeps the worklet's output in `this.played` (tests, meters).
  constructor(url, workletUrl, { capture = false, onState = () => {} } = {}) {
    this.url = url; this.workletUrl = workletUrl; this.capture = capture; this.onState = onState;
    this.played = []; this.arrived = []; this.received = 0; this.socket = null; this.context = null;
  }

  async start() {
    this.context = new AudioContext({ sampleRate: 8000, latencyHint: "interactive" });
    await this.context.audioWorklet.addModule(this.workletUrl);
    this.node = new AudioWorkletNode(this.context, "listen-player", {
      outputChannelCount: [1], processorOptions: { capture: this.capture } });
    this.node.connect(this.context.destination);
    if (this.capture) this.node.port.onmessage = (event) => this.played.push(event.data);
    await this.context.resume();
    this.socket = new WebSocket(this.url);
    this.socket.binaryType = "arraybuffer";
    this.socket.onopen = () => this.onState("listening");
    this.socket.onclose = () => this.onState("stopped");
    this.socket.onerror = () => this.onState("error");
    this.socket.onmessage = (event) => {
      this.received += event.data.byteLength;
      const samples = decodeUlaw(new Uint8Array(event.data));
      // Unix ms of each chunk's arrival: splits the network from the jitter buffer (bench).
      if (this.capture) this.arrived.push({ at: performance.timeOrigin + performance.now(), samples });
      this.node.port.postMessage(samples);
    };
  }

  // Maps the audio clock to Unix time: the worklet stamps blocks with `currentTime`, and
  // getOutputTimestamp() says which context time the speaker is playing at which page time.
  clock() {
    const ts = this.context.getOutputTimestamp();
    return { contextTime: ts.contextTime, epochMs: performance.timeOrigin + ts.performanceTime,
             baseLatency: this.context.baseLatency, outputLatency: this.context.outputLatency || 0 };
  }

  stop() {
    if (this.socket) this.socket.close();
    if (this.context) this.context.close();
    this.socket = null; this.context = null;
    this.onState("stopped");
  }
}
