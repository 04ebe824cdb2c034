"""Make the bundled spoken prompt src/aimark/data/voice/aigc-zh.wav (run offline, once).

espeak-ng (GPL-3) is used as a separate tool through PyPI's espeakng-loader, which bundles
espeak-ng 1.52 and its data; it is never imported by aimark. The script synthesises
"人工智能生成" with the Mandarin voice ``cmn``, prints espeak-ng's own phoneme transcription of
the text (to check that every character is read as Mandarin, not spelled or read as English),
and writes 16-bit mono WAV at espeak-ng's 22,050 Hz with the peak at -1 dBFS.

    pip install espeakng-loader && python tools/make_voice_prompt.py
"""

from __future__ import annotations

import ctypes
import struct
import sys
from pathlib import Path

import espeakng_loader

TEXT = "人工智能生成"
RATE = 125  # espeak-ng words per minute: about 130 characters per minute for this text, inside SPEC §1 120-160
OUT = Path(__file__).resolve().parents[1] / "src" / "aimark" / "data" / "voice" / "aigc-zh.wav"


def main() -> None:
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    data = espeakng_loader.get_data_path()
    rate = lib.espeak_Initialize(1, 0, str(Path(data).parent).encode(), 0)  # AUDIO_OUTPUT_RETRIEVAL
    if rate <= 0:
        sys.exit("espeak-ng did not initialise")
    if lib.espeak_SetVoiceByName(b"cmn") != 0:
        sys.exit("no cmn voice")
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    ptr = ctypes.c_char_p(TEXT.encode())
    pp = ctypes.pointer(ptr)
    phonemes = lib.espeak_TextToPhonemes(pp, 1, 0x02)  # UTF-8 text, IPA output
    print("phonemes:", phonemes.decode("utf-8", "replace") if phonemes else None)
    samples: list[bytes] = []
    CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

    def cb(wav, n, events):
        if n > 0:
            samples.append(ctypes.string_at(wav, n * 2))
        return 0

    keep = CB(cb)
    lib.espeak_SetSynthCallback(keep)
    lib.espeak_SetParameter(1, RATE, 0)  # espeakRATE
    text = TEXT.encode()
    lib.espeak_Synth(text, len(text) + 1, 0, 1, 0, 1, None, None)  # POS_CHARACTER, espeakCHARS_UTF8
    lib.espeak_Synchronize()
    pcm = b"".join(samples)
    vals = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    peak = max(1, max(abs(v) for v in vals))
    scale = 0.891 * 32767 / peak
    pcm = struct.pack(f"<{len(vals)}h", *(int(v * scale) for v in vals))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    OUT.write_bytes(header + b"data" + struct.pack("<I", len(pcm)) + pcm)
    print(f"{OUT}: {len(vals) / rate:.2f} s at {rate} Hz")


if __name__ == "__main__":
    main()
