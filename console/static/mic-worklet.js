// AudioWorklet microphone encoder: the context's rate -> 8 kHz mu-law, 160-byte (20 ms) frames.
// A windowed-sinc low-pass (Hamming, TAPS taps, cut-off CUTOFF Hz) keeps what is above 4 kHz
// from aliasing; output samples are linearly interpolated between filtered input samples, so
// any input rate works (48 kHz, 44.1 kHz, ...). Frames are posted to the page as ArrayBuffers.
const TAPS = 127;
const CUTOFF = 3300;
const OUT_RATE = 8000;
const FRAME = 160;

function lowPass(rate) {
  const taps = new Float32Array(TAPS);
  const fc = CUTOFF / rate;
  const mid = (TAPS - 1) / 2;
  let sum = 0;
  for (let i = 0; i < TAPS; i++) {
    const n = i - mid;
    const sinc = n === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * n) / (Math.PI * n);
    taps[i] = sinc * (0.54 - 0.46 * Math.cos(2 * Math.PI * i / (TAPS - 1)));
    sum += taps[i];
  }
  for (let i = 0; i < TAPS; i++) taps[i] /= sum;  // unity gain at DC
  return taps;
}

export function ulawEncode(sample) {
  // G.711 mu-law of a 16-bit linear sample.
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  s = Math.min(s, 32635) + 0x84;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; exponent--, mask >>= 1);
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

class MicEncoder extends AudioWorkletProcessor {
  constructor() {
    super();
    this.taps = lowPass(sampleRate);
    this.step = sampleRate / OUT_RATE;    // input samples per output sample
    this.history = new Float32Array(TAPS * 2);  // written twice: a window is always contiguous
    this.at = 0;                          // write position in history
    this.t = -1;                          // index of the newest input sample
    this.next = 0;                        // input-sample position of the next output sample
    this.previous = 0;                    // filtered value at t - 1
    this.frame = new Uint8Array(FRAME);
    this.filled = 0;
    this.port.onmessage = (event) => { if (event.data === "stop") this.stopped = true; };
  }

  filter() {
    const h = this.history, taps = this.taps, start = this.at;
    let acc = 0;
    for (let i = 0; i < TAPS; i++) acc += taps[i] * h[start + i];
    return acc;
  }

  push(x) {
    this.history[this.at] = x;
    this.history[this.at + TAPS] = x;
    this.at = (this.at + 1) % TAPS;
    this.t += 1;
    const y = this.filter();
    while (this.next <= this.t) {
      const frac = this.next - (this.t - 1);   // in (0, 1]: between t - 1 and t
      this.emit(this.previous + (y - this.previous) * frac);
      this.next += this.step;
    }
    this.previous = y;
  }

  emit(value) {
    this.frame[this.filled++] = ulawEncode(value * 32767);
    if (this.filled === FRAME) {
      this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
      this.frame = new Uint8Array(FRAME);
      this.filled = 0;
    }
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) for (let i = 0; i < channel.length; i++) this.push(channel[i]);
    return !this.stopped;
  }
}

registerProcessor("mic-encoder", MicEncoder);
