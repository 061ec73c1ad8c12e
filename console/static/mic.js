// Browser supervisor: one WebSocket that is this browser's leg in the conference.
// In: 8 kHz mu-law of what the leg hears (played through the listen worklet) and JSON notices.
// Out: the microphone as 160-byte mu-law frames, only while `sending` (whisper or barge).
import { decodeUlaw } from "./listen.js";

export class MicError extends Error {}

export class Supervisor {
  constructor(url, { playerUrl, micUrl, onNotice = () => {}, onMicLost = () => {} }) {
    Object.assign(this, { url, playerUrl, micUrl, onNotice, onMicLost });
    this.socket = null; this.player = null; this.mic = null; this.stream = null;
    this.sending = false; this.sent = 0; this.heard = 0; this.connected = false;
    this.log = null;  // a bench sets an array: each sent frame and its Unix ms
  }

  // Open the socket (dials the leg); resolves on `connected`, rejects on `error` or close.
  connect() {
    return new Promise((resolve, reject) => {
      this.startPlayer().catch(() => {});
      const socket = this.socket = new WebSocket(this.url);
      socket.binaryType = "arraybuffer";
      socket.onmessage = (event) => {
        if (typeof event.data !== "string") {
          this.heard += event.data.byteLength;
          if (this.player) this.player.port.postMessage(decodeUlaw(new Uint8Array(event.data)));
          return;
        }
        const notice = JSON.parse(event.data);
        if (notice.type === "connected") { this.connected = true; resolve(notice); }
        if (notice.type === "error") reject(new Error(notice.message));
        this.onNotice(notice);
      };
      socket.onclose = () => {
        this.connected = false; this.sending = false;
        reject(new Error("the connection closed"));
        this.onNotice({ type: "closed" });
      };
    });
  }

  async startPlayer() {
    this.playerContext = new AudioContext({ sampleRate: 8000, latencyHint: "interactive" });
    await this.playerContext.audioWorklet.addModule(this.playerUrl);
    this.player = new AudioWorkletNode(this.playerContext, "listen-player", { outputChannelCount: [1] });
    this.player.connect(this.playerContext.destination);
    await this.playerContext.resume();
  }

  // Ask for the microphone once; MicError (nothing changed) if it is denied or missing.
  async ensureMicrophone() {
    if (this.mic) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
    } catch (error) {
      throw new MicError(`Microphone unavailable (${error.name || error.message}).`);
    }
    const context = this.micContext = new AudioContext({ latencyHint: "interactive" });
    await context.audioWorklet.addModule(this.micUrl);
    const node = new AudioWorkletNode(context, "mic-encoder", { numberOfInputs: 1, numberOfOutputs: 0 });
    node.port.onmessage = (event) => this.frame(event.data);
    context.createMediaStreamSource(stream).connect(node);
    await context.resume();
    for (const track of stream.getAudioTracks()) {
      track.addEventListener("ended", () => this.lost());
    }
    this.stream = stream; this.mic = node;
  }

  frame(buffer) {
    if (this.sending && this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(buffer);
      this.sent += 1;
      if (this.log) this.log.push({ at: performance.timeOrigin + performance.now(), buffer });
    }
  }

  lost() {
    // The device went away: stop sending; the conference state is left as it is.
    this.sending = false;
    if (this.mic) this.mic.port.postMessage("stop");
    if (this.micContext) this.micContext.close();
    this.mic = null; this.stream = null; this.micContext = null;
    this.onMicLost();
  }

  close() {
    this.sending = false;
    if (this.socket) this.socket.close();
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    for (const context of [this.micContext, this.playerContext]) if (context) context.close();
    this.socket = null; this.mic = null; this.stream = null; this.micContext = this.playerContext = null;
  }
}
