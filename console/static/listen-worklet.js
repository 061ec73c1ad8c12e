// AudioWorklet player: the adaptive jitter buffer (jitter.js) in front of the speaker.
// With `capture`, posts each block it played and the buffer's state (for tests and the bench).
import { JitterBuffer } from "./jitter.js";

class ListenPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.buffer = new JitterBuffer();
    this.capture = Boolean(options.processorOptions && options.processorOptions.capture);
    this.port.onmessage = (event) => this.buffer.push(event.data);
  }

  process(inputs, outputs) {
    const out = this.buffer.pull(outputs[0][0]);
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    if (this.capture) {
      this.port.postMessage({ played: out.slice(0), at: currentTime, depth: this.buffer.depth,
                              ...this.buffer.stats });
    }
    return true;
  }
}

registerProcessor("listen-player", ListenPlayer);
