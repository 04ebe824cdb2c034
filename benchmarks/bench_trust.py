"""What trust costs: C2PA signing and reading, and SM2 security data, with peers side by side.

* C2PA: labeling a 1920x1080 JPEG file to file, unsigned and signed (the manifest is the last
  step), the time signing adds and the ratio; reading and validating the signed file (aimark's
  verify check and c2pa-python's Reader alone). Bars: signing adds <= 10 ms, verify <= 10 ms.
* SM2 (SM3withSM2 over the ReservedCode1 string): aimark.sm2 against tongsuopy (a native
  Tongsuo build) and gmssl (pure Python) when installed, and ``openssl speed sm2`` (OpenSSL's
  own C code). Bar: sign and verify <= 2 ms each.

    python benchmarks/bench_trust.py [--runs 200] [--write benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section

PRODUCER = "001191110102MACQD9K64010000"


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def bench_c2pa(runs: int, tmp: Path) -> list[str]:
    import numpy as np
    from PIL import Image
    from skimage import data as skdata

    import aimark
    from aimark import AIGCLabel, c2pa, keys

    im = Image.fromarray(np.asarray(Image.fromarray(skdata.astronaut()).resize((1920, 1080))))
    src = tmp / "photo.jpg"
    im.save(src, quality=90)
    keys.generate_c2pa(str(tmp / "k"))
    signer = c2pa.C2paSigner.from_files(str(tmp / "k" / "c2pa-chain.pem"), str(tmp / "k" / "c2pa-key.pem"))
    step = c2pa.signing_step(signer)
    label = AIGCLabel(PRODUCER, "bench-1")
    plain = median_ms(lambda: aimark.label_file(src, tmp / "plain.jpg", label), runs)
    signed = median_ms(lambda: aimark.label_file(src, tmp / "signed.jpg", label, finish=step), runs)
    root = (tmp / "k" / "c2pa-root.pem").read_text()
    meta = aimark.VerifyOptions(watermark=False, explicit=False, c2pa=False)
    with_c2pa = aimark.VerifyOptions(watermark=False, explicit=False, trust_anchors=root)
    v_plain = median_ms(lambda: aimark.verify(tmp / "signed.jpg", options=meta), runs)
    v_signed = median_ms(lambda: aimark.verify(tmp / "signed.jpg", options=with_c2pa), runs)
    assert aimark.verify(tmp / "signed.jpg", options=with_c2pa).sections["c2pa"].state == "Trusted"
    import c2pa as lib

    ctx = lib.Context.from_dict({"verify": {"remote_manifest_fetch": False}, "trust": {"user_anchors": root}})
    data = (tmp / "signed.jpg").read_bytes()
    reader = median_ms(lambda: json.loads(lib.Reader("image/jpeg", io.BytesIO(data), context=ctx).json()), runs)
    add, vadd = signed - plain, v_signed - v_plain
    return [
        f"C2PA on a 1920x1080 JPEG ({src.stat().st_size / 1e6:.2f} MB), c2pa-python {_version()}, medians of {runs}:",
        "",
        "| step | ms |",
        "|---|---:|",
        f"| label file to file, unsigned | {plain:.2f} |",
        f"| label file to file, C2PA-signed | {signed:.2f} |",
        f"| signing adds | {add:.2f} (x{signed / plain:.1f} of unsigned; bar <= 10 ms: {'met' if add <= 10 else 'MISSED'}) |",
        f"| verify, metadata only | {v_plain:.2f} |",
        f"| verify with the C2PA check (Trusted) | {v_signed:.2f} |",
        f"| the C2PA check adds | {vadd:.2f} (bar <= 10 ms: {'met' if vadd <= 10 else 'MISSED'}) |",
        f"| c2pa-python Reader alone (in memory) | {reader:.2f} |",
    ]


def _version() -> str:
    from importlib.metadata import version

    return version("c2pa-python")


def bench_sm2(runs: int) -> list[str]:
    from aimark import AIGCLabel, security, sm2

    msg = security.signed_string(AIGCLabel(PRODUCER, "bench-1").fields())
    rows = []
    key = sm2.PrivateKey.generate()
    pub = key.public_key()
    sig = key.sign(msg)
    fresh = [sm2.PrivateKey.generate() for _ in range(runs + 1)]
    pairs = iter([(k.public_key(), k.sign(msg)) for k in fresh])

    def verify_new_key() -> bool:
        p, sg = next(pairs)
        return p.verify(sg, msg)

    cold = median_ms(verify_new_key, runs)
    sign_ms = median_ms(lambda: key.sign(msg), runs)
    rows.append(("aimark.sm2 (pure Python), a new key each time", sign_ms, cold))
    rows.append(("aimark.sm2 (pure Python), one key again and again", sign_ms, median_ms(lambda: pub.verify(sig, msg), runs)))
    try:
        from tongsuopy.crypto import hashes
        from tongsuopy.crypto.asymciphers import ec

        tk = ec.generate_private_key(ec.SM2())
        tsig = tk.sign(msg, ec.ECDSA(hashes.SM3()))
        tpub = tk.public_key()
        rows.append(
            (
                "tongsuopy 1.0.1 (native)",
                median_ms(lambda: tk.sign(msg, ec.ECDSA(hashes.SM3())), runs),
                median_ms(lambda: tpub.verify(tsig, msg, ec.ECDSA(hashes.SM3())), runs),
            )
        )
    except ImportError:
        rows.append(("tongsuopy (not installed)", float("nan"), float("nan")))
    try:
        from gmssl import func
        from gmssl import sm2 as gsm2

        priv = func.random_hex(64)
        g = gsm2.CryptSM2(private_key=priv, public_key="")
        g.public_key = g._kg(int(priv, 16), gsm2.default_ecc_table["g"])
        k = func.random_hex(g.para_len)
        gsig = g.sign_with_sm3(msg, k)
        n = max(5, runs // 10)
        rows.append(("gmssl 3.2.2 (pure Python)", median_ms(lambda: g.sign_with_sm3(msg, func.random_hex(g.para_len)), n),
                     median_ms(lambda: g.verify_with_sm3(gsig, msg), n)))  # fmt: skip
    except ImportError:
        rows.append(("gmssl (not installed)", float("nan"), float("nan")))
    if shutil.which("openssl"):
        out = subprocess.run(["openssl", "speed", "-seconds", "2", "sm2"], capture_output=True, text=True).stdout
        line = next((ln for ln in out.splitlines() if ln.strip().startswith("256 bits SM2")), "")
        parts = line.split()
        if len(parts) >= 8:  # "256 bits SM2 (CurveSM2) 0.0004s 0.0003s 2600.0 3320.0": from the rates
            rows.append(("OpenSSL 3 C (openssl speed sm2)", 1000 / float(parts[6]), 1000 / float(parts[7])))
    lines = [
        f"SM3withSM2 over the ReservedCode1 string, medians of {runs} (gmssl: {max(5, runs // 10)}):",
        "",
        "| implementation | sign ms | verify ms | <= 2 ms each |",
        "|---|---:|---:|---|",
    ]
    for name, s, v in rows:
        ok = "" if s != s else ("met" if s <= 2 and v <= 2 else "MISSED")
        lines.append(f"| {name} | {s:.3f} | {v:.3f} | {ok} |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = bench_c2pa(args.runs, Path(tmp))
    lines += ["", *bench_sm2(args.runs)]
    text = "\n".join(lines)
    print(text)
    if args.write:
        cmd = "python benchmarks/bench_trust.py" + (f" --runs {args.runs}" if args.runs != 200 else "")
        write_section(args.write, "trust", "Trust: C2PA and SM2", f"`{cmd} --write benchmarks/RESULTS.md`\n\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
