"""Video decoding that reports damage instead of printing it.

OpenCV's FFmpeg backend returns a frame for damaged input (garbage bytes inside ``rgb.mkv`` decode to a visibly
wrong picture, "successfully") and reports the damage only as libav log lines written straight to the process's
stderr (``[mpeg4 @ 0x55...] Error at MB: 7340``), which floods the terminal and reaches no caller. While a frame
is decoded, :func:`decoder_messages` points file descriptor 2 at a temporary file and hands back the libav lines
written meanwhile: a caller treats any as a damaged frame (``CorruptFileError``), and nothing reaches the
terminal. Other text written to stderr in that window (a progress bar redrawn by another thread) is written out
again afterwards.
"""

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2

#: A libav log line: ``[codec @ 0xADDRESS] message``.
LIBAV_LINE = re.compile(r"^\[[\w:./-]+ @ (0x)?[0-9a-fA-F]+\] ")


@contextmanager
def decoder_messages() -> Iterator[list[str]]:
    """Collect the libav lines written to stderr while the block runs (into the yielded list, once it ends)."""
    found: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield found
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            other = []
            for line in sink.read().decode("utf-8", errors="replace").splitlines(keepends=True):
                if LIBAV_LINE.match(line):
                    found.append(line.strip())
                else:
                    other.append(line)
            if other:
                sys.stderr.write("".join(other))
                sys.stderr.flush()


def open_video(path: Path) -> cv2.VideoCapture:
    """A video opened with FFmpeg decoding on one thread. With several (OpenCV's default), libav decodes frames
    ahead on other threads and logs a damaged frame's lines whenever that thread gets to it, possibly after
    :func:`decoder_messages` has put stderr back: the lines would reach the terminal and the damage go unnoticed.
    On one thread a frame's lines are written while ``read``/``grab`` decodes it."""
    return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
