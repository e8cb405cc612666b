"""Writes the soft-prompt file fixtures that promptgrad's convert tests read back: .npy arrays saved by NumPy
itself (float32, float16, bfloat16 as KoboldAI's raw 2-byte 'V2', a Fortran-ordered one to refuse) and KoboldAI
.zip archives written the way KoboldAI's exporters write them (tensor.npy then meta.json with indent=2), one
deflated and one LZMA-compressed (as the tuners do), plus a hostile one whose entry climbs out with '..'.

Run from the repository root with Debian's Python: /usr/bin/python3 tools/soft_prompt_fixtures.py
Values are i/8 - 1 for i = 0 .. rows*dim-1, exact in every float type used, so the Java test can recompute them.
"""
import json
import os
import sys
import zipfile

import numpy as np

OUT = os.path.join("models", "src", "test", "resources", "fixtures", "soft-prompts")
ROWS, DIM = 3, 16


def values(dtype=np.float32):
    return (np.arange(ROWS * DIM, dtype=np.float64) / 8 - 1).reshape(ROWS, DIM).astype(dtype)


def save_npy(name, array):
    path = os.path.join(OUT, name)
    np.save(path, array, allow_pickle=False)
    return path


def kobold_zip(name, tensor, compression):
    meta = {"name": "tiny", "author": "promptgrad tests", "supported": ["gpt2-tiny"], "description": "i/8 - 1"}
    path = os.path.join(OUT, name)
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        with z.open("tensor.npy", "w") as f:
            np.save(f, tensor, allow_pickle=False)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_STORED) as z:
        with z.open("meta.json", "w") as f:
            f.write(json.dumps(meta, indent=2).encode("utf-8"))


def main():
    os.makedirs(OUT, exist_ok=True)
    save_npy("lester-f32.npy", values())
    save_npy("f16.npy", values(np.float16))
    bf16 = (values().view(np.uint32) >> 16).astype(np.uint16).view("V2")   # the top half of each float32
    save_npy("bf16-v2.npy", bf16)
    save_npy("fortran.npy", np.asfortranarray(values()))
    kobold_zip("kobold-deflated.zip", values(np.float16), zipfile.ZIP_DEFLATED)
    kobold_zip("kobold-lzma.zip", values(), zipfile.ZIP_LZMA)
    with zipfile.ZipFile(os.path.join(OUT, "kobold-escape.zip"), "w") as z:
        z.writestr("../tensor.npy", b"x")
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)), file=sys.stderr)


if __name__ == "__main__":
    main()
