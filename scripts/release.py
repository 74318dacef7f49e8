"""`make release`: what a user deploys from, in one folder.

    python scripts/release.py function DIST VERSION EPOCH X86_64_BINARY ARM64_BINARY DATA
    python scripts/release.py sums DIST

`function` writes into DIST:
- layer-autopublish-VERSION-x86_64.zip, layer-autopublish-VERSION-arm64.zip:
  the function's `bootstrap`, zipped the same way every time (one entry,
  mode 755, dated EPOCH: the commit's time), so that the same binaries give
  the same bytes;
- layer-autopublish-VERSION.template.json: template.yaml after the SAM
  transform (SAM's own translator, as `sam deploy` runs it), plain
  CloudFormation whose function code is two parameters, CodeBucket and
  CodeKey: deploying it needs neither the SAM CLI nor the server-side
  transform;
- layer_autopublish_function-VERSION-py3-none-any.whl: the zips as a
  Python package's data (`pip install 'layerctl[deploy]'` brings it);

and into DATA (layerctl.data/, which maturin packs into layerctl's wheel,
built next) the template and release.json: each zip's name and SHA-256,
which `layerctl deploy` checks the zip it deploys against. `sums` writes
SHA256SUMS of everything in DIST, the layerctl wheel included.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "stack"))

from stack import translate  # noqa: E402  (SAM's translator, as the tests run it)

NAME = "layer-autopublish"
FUNCTION = "PublisherFunction"
FUNCTION_PACKAGE = "layer-autopublish-function"
# Where pip installs both packages' data, under the environment's prefix.
SHARE = "share/layer-autopublish"


def function_zip(binary, target, epoch):
    """`bootstrap` alone, with nothing in the zip that varies between builds."""
    when = max(epoch, 315532800)  # zip dates start in 1980
    info = zipfile.ZipInfo("bootstrap", date_time=time_tuple(when))
    info.external_attr = 0o100755 << 16
    info.create_system = 3  # Unix: the mode above counts
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(binary, "rb") as f:
        data = f.read()
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(info, data, compresslevel=9)


def time_tuple(epoch):
    import time

    t = time.gmtime(epoch)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def deployable_template(version):
    """The translated template, its function's code in CodeBucket/CodeKey."""
    template = translate()
    template.setdefault("Parameters", {})
    template["Parameters"]["CodeBucket"] = {
        "Type": "String",
        "Description": "The bucket holding the function's zip (layerctl deploy puts it there).",
        "MinLength": 3,
    }
    template["Parameters"]["CodeKey"] = {
        "Type": "String",
        "Description": (
            f"The function's zip in CodeBucket: {NAME}-{version}-x86_64.zip or "
            f"{NAME}-{version}-arm64.zip, as the Architecture parameter says."
        ),
        "MinLength": 1,
    }
    code = template["Resources"][FUNCTION]["Properties"]["Code"]
    code.clear()
    code.update({"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}})
    return template


def function_package(dist, version, epoch, zips):
    """The package `pip install 'layerctl[deploy]'` brings: the function's
    zips as data, installed at PREFIX/share/layer-autopublish/ beside the
    layerctl wheel's release.json. Built by setuptools (pinned in
    scripts/python-tools.txt: a Python 3.12 venv has none),
    dated EPOCH (bdist_wheel reads SOURCE_DATE_EPOCH)."""
    with tempfile.TemporaryDirectory() as source:
        for name in zips:
            shutil.copy(os.path.join(dist, name), source)
        with open(os.path.join(source, "README.md"), "w", encoding="utf-8") as f:
            f.write(
                f"# {FUNCTION_PACKAGE}\n\nThe layer-autopublish function's code ({NAME} {version}) "
                "for x86_64 and arm64, for `layerctl deploy`: install it with "
                "`pip install 'layerctl[deploy]'`. Nothing to import.\n"
            )
        with open(os.path.join(source, "pyproject.toml"), "w", encoding="utf-8") as f:
            f.write(
                '[build-system]\nrequires = ["setuptools>=70.1"]\n'
                'build-backend = "setuptools.build_meta"\n\n'
                f'[project]\nname = "{FUNCTION_PACKAGE}"\nversion = "{version}"\n'
                'description = "The layer-autopublish function\'s code, for layerctl deploy"\n'
                'readme = "README.md"\nlicense = { text = "Apache-2.0" }\n'
                'requires-python = ">=3.8"\n\n'
                "[tool.setuptools]\npy-modules = []\n"
                f"data-files = {{ \"{SHARE}\" = {json.dumps(sorted(zips))} }}\n"
            )
        environment = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
             "--no-build-isolation", "--no-index", "--wheel-dir", dist, source],
            check=True, env=environment, cwd=source,
        )


def release_data(data, version, template_name, dist, zips):
    """What the layerctl wheel carries (maturin packs layerctl.data/): the
    template and release.json, the SHA-256 of each function zip."""
    share = os.path.join(data, "data", SHARE)
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(share)
    shutil.copy(os.path.join(dist, template_name), share)
    manifest = {
        "version": version,
        "template": template_name,
        "zips": {
            arch: {"name": name, "sha256": sha256_of(os.path.join(dist, name)),
                   "size": os.path.getsize(os.path.join(dist, name))}
            for arch, name in zips.items()
        },
    }
    with open(os.path.join(share, "release.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def function(dist, version, epoch, x86_64, arm64, data):
    """dist/: the zips, the template, the function package; DATA: what
    layerctl's wheel carries."""
    os.makedirs(dist, exist_ok=True)
    zips = {}
    for arch, binary in (("x86_64", x86_64), ("arm64", arm64)):
        zips[arch] = f"{NAME}-{version}-{arch}.zip"
        function_zip(binary, os.path.join(dist, zips[arch]), int(epoch))
    template_name = f"{NAME}-{version}.template.json"
    with open(os.path.join(dist, template_name), "w", encoding="utf-8") as f:
        json.dump(deployable_template(version), f, indent=2, sort_keys=True)
        f.write("\n")
    function_package(dist, version, epoch, list(zips.values()))
    release_data(data, version, template_name, dist, zips)


def sums(dist):
    """SHA256SUMS of everything in dist/, and the sizes."""
    names = sorted(n for n in os.listdir(dist) if n != "SHA256SUMS")
    with open(os.path.join(dist, "SHA256SUMS"), "w", encoding="utf-8") as f:
        for name in names:
            f.write(f"{sha256_of(os.path.join(dist, name))}  {name}\n")
    for name in names + ["SHA256SUMS"]:
        print(f"{os.path.getsize(os.path.join(dist, name)):>10}  {os.path.join(dist, name)}")


def main(argv):
    if argv[:1] == ["function"] and len(argv) == 7:
        function(*argv[1:])
    elif argv[:1] == ["sums"] and len(argv) == 2:
        sums(argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
