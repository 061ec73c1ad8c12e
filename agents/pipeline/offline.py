"""Offline stages: pocketsphinx STT, a rule-based responder and espeak-ng TTS."""
from __future__ import annotations

import functools
import os
import re
import tempfile
import time
from collections.abc import Iterator

from agents import speech
from agents.audio import Resampler
from agents.base import AgentProfile

# Phrases callers commonly say; they join the FAQ in the recognizer's language model.
COMMON_PHRASES = """hello
hi there
can i talk to a human
i want to speak to a human
can i speak to a person please
let me talk to an agent
thank you goodbye
thanks bye
yes please
no thank you
can you repeat that
"""
DECODE_CHUNK = 1600  # 50 ms at 16 kHz
_WORD = re.compile(r"[a-z']+")


@functools.lru_cache(maxsize=32)
def _pronunciations(vocab: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """Dictionary entries of the words in `vocab` (one scan of cmudict; not kept whole, ~40 MB)."""
    from pocketsphinx import get_model_path

    table: dict[str, list[str]] = {}
    with open(os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict")) as source:
        for line in source:
            word = line.split(" ", 1)[0].split("(", 1)[0]
            if word in vocab:
                table.setdefault(word, []).append(line)
    return {word: tuple(entries) for word, entries in table.items()}


def _domain_model(corpus: str, directory: str) -> tuple[str, str]:
    """Write an ARPA LM and a matching small dictionary for `corpus`; return their paths."""
    from pocketsphinx.lm import ArpaBoLM

    table = _pronunciations(frozenset(words(corpus)))
    # Words missing from the pronouncing dictionary would make the LM unusable.
    lines = [" ".join(w for w in words(line) if w in table) for line in corpus.splitlines()]
    lines = [line for line in lines if line]
    model = ArpaBoLM(text="\n".join(lines), add_start=True)
    model.compute()
    lm_path, dict_path = os.path.join(directory, "lm.arpa"), os.path.join(directory, "lm.dict")
    model.write_file(lm_path)
    vocab = sorted({w for line in lines for w in line.split()})
    with open(dict_path, "w") as out:
        out.writelines(entry for w in vocab for entry in table[w])
    return lm_path, dict_path


def words(text: str) -> list[str]:
    """Lower-case words of `text` (digits and punctuation dropped)."""
    return _WORD.findall(text.lower())


def profile_corpus(profile: AgentProfile) -> str:
    """Sentences the recognizer should expect for `profile`: its FAQ and common phrases."""
    lines = [q for q, _ in profile.faq] + [a for _, a in profile.faq] + [COMMON_PHRASES]
    return "\n".join(" ".join(words(line)) for line in lines if line)


class SphinxSTT:
    """pocketsphinx (bundled en-US model), biased to `corpus` by a small n-gram LM when given.

    espeak-like or narrowband speech is recognized poorly by the general LM; a domain LM built
    from the profile's FAQ makes the vocabulary the caller is likely to use recognizable. The
    domain decoder gets a dictionary of just those words, which also makes it load in ~20 ms.
    """

    def __init__(self, corpus: str | None = None) -> None:
        from pocketsphinx import Decoder

        if not corpus:
            self._decoder = Decoder(samprate=16000, loglevel="FATAL")
            return
        with tempfile.TemporaryDirectory(prefix="forkline-lm-") as tmp:
            lm_path, dict_path = _domain_model(corpus, tmp)
            self._decoder = Decoder(samprate=16000, loglevel="FATAL", lm=lm_path, dict=dict_path)

    def start(self) -> None:
        """Begin an utterance that will be fed while the caller talks."""
        self._resampler = Resampler(8000, 16000)
        self._decoder.start_utt()

    def feed(self, pcm: bytes) -> None:
        """Decode more 8 kHz PCM16 of the current utterance.

        The decoder holds the GIL while it works, so audio goes in 50 ms pieces with a yield
        between them: other greenlets (and threads) keep running during a long decode.
        """
        wide = self._resampler.process(pcm)
        for start in range(0, len(wide), DECODE_CHUNK):
            self._decoder.process_raw(wide[start : start + DECODE_CHUNK], False, False)
            time.sleep(0)

    def finish(self) -> Iterator[tuple[str, bool]]:
        """End the utterance; yields the final text."""
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        yield (hyp.hypstr if hyp else ""), True

    def transcribe(self, pcm: bytes) -> Iterator[tuple[str, bool]]:
        """Decode one whole 8 kHz PCM16 utterance (upsampled for the 16 kHz model)."""
        self.start()
        self.feed(pcm)
        return self.finish()


class EspeakTTS:
    """espeak-ng, resampled to 8 kHz mu-law, streamed as it is produced."""

    def __init__(self, voice: str = speech.DEFAULT_VOICE) -> None:
        self.voice = voice

    def synthesize(self, text: str) -> Iterator[bytes]:
        """Yield mu-law chunks of `text`."""
        yield from speech.stream_ulaw(text, self.voice)
