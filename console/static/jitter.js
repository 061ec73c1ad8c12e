// Adaptive jitter buffer for 8 kHz mono audio (sans-I/O: no clock, no worklet, no socket).
// The listen worklet pushes decoded chunks as they arrive and pulls one render block at a time.
//
// - Starts playing once `target` samples are queued; after an underrun it plays silence and
//   re-buffers to `target` again (a short gap beats stuttering on every late chunk).
// - Trims back towards `target`: it watches the lowest depth over each `window` of played
//   samples. If even that lowest depth stayed above target + margin, the excess was never
//   needed to ride out jitter (it is what an early burst or a stall's backlog left behind), so
//   it drops that excess, in whole 20 ms frames of the oldest audio, in one cut. Dropping
//   rather than time-stretching keeps this cheap and exact; one cut per window, joined by a
//   short crossfade, is a barely audible skip, where a permanent extra 200 ms is a delay the
//   supervisor hears in every exchange. Using the window's minimum (not its mean) means a
//   buffer that bursts and drains regularly is left alone: its low points are its safety.
// - A hard `cap`: a push that takes the depth above it drops the oldest whole frames at once
//   (no crossfade: it only happens after a stall, where the skip is the point).
export const FRAME = 160;  // 20 ms at 8 kHz: Twilio's frame

export class JitterBuffer {
  constructor({ target = 640, margin = 320, window = 8000, cap = 1600, fade = 40 } = {}) {
    Object.assign(this, { target, margin, window, cap, fade });
    this.chunks = [];        // queued Float32Arrays, oldest first
    this.depth = 0;          // queued samples
    this.playing = false;
    this.low = Infinity;     // lowest depth seen in the current window
    this.watched = 0;        // samples played in the current window
    this.stats = { dropped: 0, trims: 0, capped: 0, underruns: 0, silent: 0 };
  }

  // Queue one decoded chunk; drops the oldest whole frames if the depth passes the cap.
  push(samples) {
    if (!samples.length) return;
    this.chunks.push(samples);
    this.depth += samples.length;
    if (this.depth > this.cap) {
      this.drop(Math.ceil((this.depth - this.cap) / FRAME) * FRAME);
      this.stats.capped += 1;
    }
  }

  // Fill `out` (one render block) with the next samples, or silence while (re)buffering.
  pull(out) {
    if (!this.playing && this.depth >= this.target) this.playing = true;
    const i = this.playing ? this.read(out) : 0;
    if (i < out.length) {
      out.fill(0, i);
      this.stats.silent += out.length - i;
      if (this.playing) { this.playing = false; this.stats.underruns += 1; }
      this.low = Infinity; this.watched = 0;  // a fresh start: no trimming on old evidence
      return out;
    }
    this.low = Math.min(this.low, this.depth);
    this.watched += out.length;
    if (this.watched >= this.window) this.trim();
    return out;
  }

  trim() {
    const excess = this.low - this.target;
    if (excess > this.margin) {
      const cut = Math.floor(excess / FRAME) * FRAME;
      this.crossfaded(cut);
      this.stats.trims += 1;
    }
    this.low = Infinity; this.watched = 0;
  }

  // Drop `cut` samples from the head, blending the audio that would have played into the
  // audio that now plays over `fade` samples, so the cut is not a click.
  crossfaded(cut) {
    const n = Math.min(this.fade, this.depth - cut);
    const before = this.peek(n);
    this.drop(cut);
    const after = this.peek(n);
    this.discard(n);
    for (let k = 0; k < n; k++) {
      const w = (k + 1) / (n + 1);
      after[k] = before[k] * (1 - w) + after[k] * w;
    }
    if (n) { this.chunks.unshift(after); this.depth += n; }
  }

  // A copy of the next `n` samples, not consumed.
  peek(n) {
    const out = new Float32Array(n);
    let i = 0;
    for (const chunk of this.chunks) {
      if (i === n) break;
      const k = Math.min(chunk.length, n - i);
      out.set(chunk.subarray(0, k), i);
      i += k;
    }
    return out;
  }

  // Consume up to out.length samples into `out`; returns how many there were.
  read(out) {
    let i = 0;
    while (i < out.length && this.chunks.length) {
      const head = this.chunks[0];
      const n = Math.min(head.length, out.length - i);
      out.set(head.subarray(0, n), i);
      i += n;
      this.consume(head, n);
    }
    return i;
  }

  drop(count) {
    this.stats.dropped += this.discard(count);
  }

  discard(count) {
    const total = Math.min(count, this.depth);
    let left = total;
    while (left > 0) {
      const head = this.chunks[0];
      const n = Math.min(head.length, left);
      this.consume(head, n);
      left -= n;
    }
    return total;
  }

  consume(head, n) {
    this.depth -= n;
    if (n === head.length) this.chunks.shift(); else this.chunks[0] = head.subarray(n);
  }
}
