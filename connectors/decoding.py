"""Content-encodings undone in bounded steps, so a byte cap sees the output before it is all in memory.

httpx decompresses before any cap of ours sees the data (a 261 kB gzip body became a 150 MB memory peak behind a
10 MB cap): the Fetcher reads raw bytes and feeds them to these decoders, which yield at most DECODE_STEP bytes
at a time.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli

from connectors.fetch_errors import FatalFetchError

__all__ = ["DECODE_STEP", "DecoderChain", "decoder_for"]

# Decompression produces output in steps of this size, so a bomb overshoots its cap by one step at most.
DECODE_STEP = 64 * 1024
# zlib window bits 32 + 15: accept a gzip or a zlib header, whichever the stream has.
ZLIB_AUTO_HEADER = 47


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


class _ZlibDecoder:
    """gzip or deflate, yielding at most DECODE_STEP bytes at a time."""

    def __init__(self, *, raw_fallback: bool) -> None:
        self._inflater = zlib.decompressobj(wbits=ZLIB_AUTO_HEADER)
        # Some servers send "deflate" as a raw deflate stream without the zlib header: retry once that way.
        self._raw_fallback = raw_fallback

    def feed(self, data: bytes) -> Iterator[bytes]:
        pending = data
        # Bytes after the end of the stream are ignored, as httpx does.
        while pending and not self._inflater.eof:
            try:
                out = self._inflater.decompress(pending, DECODE_STEP)
            except zlib.error:
                if not self._raw_fallback:
                    raise
                self._inflater = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
                self._raw_fallback = False
                continue
            self._raw_fallback = False
            pending = self._inflater.unconsumed_tail
            if out:
                yield out

    def finish(self) -> Iterator[bytes]:
        # All input has been consumed by now, so what is left is at most one window (32 KiB).
        out = self._inflater.flush()
        if out:
            yield out


class _BrotliDecoder:
    """br, yielding roughly DECODE_STEP bytes at a time."""

    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._decompressor.is_finished():
            return
        out = self._decompressor.process(data, output_buffer_limit=DECODE_STEP)
        while True:
            if out:
                yield out
            # With output pending, process() must be called with empty input until it can take more.
            if not out or self._decompressor.can_accept_more_data():
                return
            out = self._decompressor.process(b"", output_buffer_limit=DECODE_STEP)

    def finish(self) -> Iterator[bytes]:
        return iter(())


class DecoderChain:
    """The content-codings of a response undone in reverse order of application (usually one, or none)."""

    def __init__(self, decoders: list[_Decoder]) -> None:
        self._decoders = decoders

    def feed(self, data: bytes) -> Iterator[bytes]:
        yield from self._push(0, data)

    def finish(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self._decoders):
            for piece in decoder.finish():
                yield from self._push(index + 1, piece)

    def _push(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._decoders):
            yield data
            return
        for piece in self._decoders[index].feed(data):
            yield from self._push(index + 1, piece)


def decoder_for(content_encoding: str, *, url: str, status: int) -> DecoderChain:
    decoders: list[_Decoder] = []
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip"):
            decoders.append(_ZlibDecoder(raw_fallback=False))
        elif coding == "deflate":
            decoders.append(_ZlibDecoder(raw_fallback=True))
        elif coding == "br":
            decoders.append(_BrotliDecoder())
        elif coding != "identity":
            raise FatalFetchError(url, f"unsupported content-encoding {coding!r}", status)
    return DecoderChain(decoders)
