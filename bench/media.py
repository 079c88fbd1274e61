"""The media pipeline's encoding against FFmpeg's own command line, on the same machine, in the
same run.

    uv run python -m bench.media [--seconds 300] [--runs 3]

Makes a stereo 44.1 kHz 16-bit WAV of `--seconds` (a chord and some noise, so the encoders
have work), then, `--runs` times each and keeping the best:

- the pipeline: `media.analysis.analyse` in a process of its own (one decode, the four
  renditions, loudness, waveform, quality report), its CPU time and peak memory (`ru_maxrss`);
- the floor: one `ffmpeg` command that decodes the file once and writes the same four
  renditions (`-c:a libopus -b:a 160k`, `96k`, `aac 256k`, `libmp3lame 320k`), its CPU time.

Prints seconds of audio processed per CPU second for each, and the ratio (goal: ≥ 0.8 of
FFmpeg's). Needs `ffmpeg` on PATH (Debian's package; the service itself never calls it).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

_PIPELINE = """
import resource, sys, time
from pathlib import Path
from empulse.media.analysis import analyse
source, out = Path(sys.argv[1]), Path(sys.argv[2])
analyse(source, out, max_seconds=10_800, deadline_seconds=3_600)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


def _wav(path: Path, seconds: int) -> None:
    rate = 44_100
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        generator = np.random.default_rng(7)
        for start in range(0, seconds, 10):  # ten seconds at a time: flat memory
            t = np.arange(start * rate, min(start + 10, seconds) * rate) / rate
            chord = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
            left = chord + 0.02 * generator.standard_normal(t.size)
            right = chord + 0.02 * generator.standard_normal(t.size)
            pcm = np.clip(np.stack([left, right], axis=1) * 32767, -32768, 32767)
            out.writeframes(pcm.astype("<i2").tobytes())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _pipeline(source: Path, work: Path) -> tuple[float, float]:
    """(CPU seconds, peak memory in MB) of one pipeline run in a process of its own."""
    out = work / "pipeline"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _PIPELINE, str(source), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    cpu, rss_kb = done.stdout.split()
    return float(cpu), int(rss_kb) / 1024


def _ffmpeg(source: Path, work: Path) -> float:
    """CPU seconds of FFmpeg writing the same four renditions from one decode."""
    out = work / "ffmpeg"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    before = _children_cpu()
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-threads",
            "1",
            "-i",
            str(source),
            "-c:a",
            "libopus",
            "-b:a",
            "160k",
            str(out / "opus-160.opus"),
            "-c:a",
            "libopus",
            "-b:a",
            "96k",
            str(out / "opus-96.opus"),
            "-c:a",
            "aac",
            "-b:a",
            "256k",
            str(out / "aac-256.m4a"),
            "-c:a",
            "libmp3lame",
            "-b:a",
            "320k",
            str(out / "mp3-320.mp3"),
        ],
        check=True,
    )
    return _children_cpu() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("needs ffmpeg on PATH (apt-get install ffmpeg): it is the reference")
    with tempfile.TemporaryDirectory(prefix="empulse-bench-media-") as folder:
        work = Path(folder)
        source = work / "track.wav"
        _wav(source, args.seconds)
        pipeline = [_pipeline(source, work) for _ in range(args.runs)]
        floor = [_ffmpeg(source, work) for _ in range(args.runs)]
    cpu = min(run[0] for run in pipeline)
    peak = max(run[1] for run in pipeline)
    reference = min(floor)
    print(f"a {args.seconds} s stereo 44.1 kHz WAV; best of {args.runs}; {sys.platform}")
    print()
    print("| | CPU s | audio s per CPU s | ratio to FFmpeg | peak memory MB |")
    print("|---|---|---|---|---|")
    print(
        f"| pipeline (4 renditions, loudness, waveform, report) | {cpu:.1f} | "
        f"{args.seconds / cpu:.1f} | {reference / cpu:.2f} | {peak:.0f} |"
    )
    print(
        f"| ffmpeg CLI (the 4 renditions) | {reference:.1f} | "
        f"{args.seconds / reference:.1f} | 1 | |"
    )


if __name__ == "__main__":
    main()
