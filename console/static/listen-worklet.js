// AudioWorklet player: a small jitter buffer in front of the speaker.
// Starts after START samples are queued, never holds more than MAX (drops the oldest), and
// re-buffers after an underrun. With `capture`, posts what it played back (for tests/meters).
const START = 480;   // 60 ms at 8 kHz
const MAX = 2400;    // 300 ms

class ListenPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.queue = [];
    this.queued = 0;
    this.playing = false;
    this.dropped = 0;
    this.capture = Boolean(options.processorOptions && options.processorOptions.capture);
    this.port.onmessage = (event) => this.push(event.data);
  }

  push(samples) {
    this.queue.push(samples);
    this.queued += samples.length;
    while (this.queued > MAX && this.queue.length > 1) {
      const old = this.queue.shift();
      this.queued -= old.length;
      this.dropped += old.length;
    }
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    if (!this.playing && this.queued >= START) this.playing = true;
    let i = 0;
    while (this.playing && i < out.length && this.queue.length) {
      const head = this.queue[0];
      const n = Math.min(head.length, out.length - i);
      out.set(head.subarray(0, n), i);
      i += n;
      this.queued -= n;
      if (n === head.length) this.queue.shift(); else this.queue[0] = head.subarray(n);
    }
    if (i < out.length) { out.fill(0, i); if (this.playing && !this.queue.length) this.playing = false; }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    if (this.capture) this.port.postMessage({ played: out.slice(0), at: currentTime, dropped: this.dropped });
    return true;
  }
}

registerProcessor("listen-player", ListenPlayer);
