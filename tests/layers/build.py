"""Real layers for the checks before a publish (issue 32): layer zips made
from real wheels, pinned by SHA-256, downloaded with pip (once: they stay in
the output folder) and unpacked under python/ as `pip install --target`
lays them out; plus a zip at the wrong place and one over Lambda's unzipped
limit (deflated zeros: a few hundred KB on disk).

    python tests/layers/build.py OUTPUT_DIR

Each layer is OUTPUT_DIR/<name>.zip; tests/on_moto/real_layers.rs says what
each must become.
"""

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# name: (requirement, pip's platform, SHA-256 of the wheel)
WHEELS = {
    "six": ("six==1.16.0", None,
            "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"),
    "markupsafe-x86_64": ("markupsafe==3.0.2", "manylinux2014_x86_64",
                          "e17c96c14e19278594aa4841ec148115f9c7615a47382ecb6b82bd8fea3ab0c8"),
    "markupsafe-aarch64": ("markupsafe==3.0.2", "manylinux2014_aarch64",
                           "1c99d261bd2d5f6b59325c92c73df481e05e57f19837bdca8413b9eac4bd8028"),
    "markupsafe-macos": ("markupsafe==3.0.2", "macosx_11_0_arm64",
                         "846ade7b71e3536c4e56b386c2a47adf5741d2d8b94ec9dc3e92e5e1ee1e2225"),
    "bcrypt-abi3": ("bcrypt==4.2.1", "manylinux2014_x86_64",
                    "cde78d385d5e93ece5479a0a87f73cd6fa26b171c786a884f955e165032b262c"),
    "bcrypt-glibc-2.28": ("bcrypt==4.2.1", "manylinux_2_28_x86_64",
                          "687cf30e6681eeda39548a93ce9bfbb300e48b4d445a43db4298d2474d2a1e54"),
    "pyzmq-libs": ("pyzmq==26.2.0", "manylinux2014_x86_64",
                   "ea7f69de383cb47522c9c208aec6dd17697db7875a4674c4af3f8cfdac0bdeae"),
}

# layer: the wheels it holds, and where they go in the zip
LAYERS = {
    "pure": (["six"], "python/"),
    "cp312-x86_64": (["markupsafe-x86_64"], "python/"),
    "cp312-aarch64": (["markupsafe-aarch64"], "python/"),
    "abi3": (["bcrypt-abi3"], "python/"),
    "manylinux_2_28": (["bcrypt-glibc-2.28"], "python/"),
    "macos": (["markupsafe-macos"], "python/"),
    "auditwheel-libs": (["pyzmq-libs"], "python/"),
    "site-packages-at-root": (["six", "markupsafe-x86_64"], ""),
}

UNZIPPED_LIMIT = 262_144_000


def wheel(cache: Path, name: str) -> Path:
    requirement, platform, sha256 = WHEELS[name]
    folder = cache / name
    found = list(folder.glob("*.whl"))
    if found and hashlib.sha256(found[0].read_bytes()).hexdigest() == sha256:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write(f"{requirement} --hash=sha256:{sha256}\n")
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", "--require-hashes", "-r", pins.name, "-d", str(folder)]
    if platform:
        command += ["--platform", platform, "--python-version", "3.12", "--implementation", "cp"]
    subprocess.run(command, check=True)
    found = list(folder.glob("*.whl"))
    assert len(found) == 1, found
    return found[0]


def layer(out: Path, cache: Path, name: str) -> None:
    wheels, prefix = LAYERS[name]
    target = out / f"{name}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as layer_zip:
        for wheel_name in wheels:
            with zipfile.ZipFile(wheel(cache, wheel_name)) as whl:
                for info in whl.infolist():
                    if not info.is_dir():
                        layer_zip.writestr(prefix + info.filename, whl.read(info))


def too_large(out: Path) -> None:
    """python/zeros.bin, one byte past the limit, deflated."""
    target = out / "over-the-unzipped-limit.zip"
    if target.exists():
        return
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as layer_zip:
        with layer_zip.open("python/zeros.bin", "w", force_zip64=True) as entry:
            left = UNZIPPED_LIMIT + 1
            while left:
                part = chunk[: min(left, len(chunk))]
                entry.write(part)
                left -= len(part)


def main() -> None:
    out = Path(sys.argv[1])
    cache = out / "wheels"
    out.mkdir(parents=True, exist_ok=True)
    for name in LAYERS:
        layer(out, cache, name)
    too_large(out)


if __name__ == "__main__":
    main()
