"""`make release`: what a user deploys from, in one folder (issue 33).

    python scripts/release.py DIST VERSION EPOCH X86_64_BINARY ARM64_BINARY WHEEL

writes into DIST:
- layer-autopublish-VERSION-x86_64.zip, layer-autopublish-VERSION-arm64.zip:
  the function's `bootstrap`, zipped the same way every time (one entry,
  mode 755, dated EPOCH: the commit's time), so that the same binaries give
  the same bytes;
- layer-autopublish-VERSION.template.json: template.yaml after the SAM
  transform (SAM's own translator, as `sam deploy` runs it), plain
  CloudFormation whose function code is two parameters, CodeBucket and
  CodeKey: deploying it needs neither the SAM CLI nor the server-side
  transform;
- the layerctl wheel, as `make wheel` built it;
- SHA256SUMS, of all of the above.
"""

import hashlib
import json
import os
import shutil
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "stack"))

from stack import translate  # noqa: E402  (SAM's translator, as the tests run it)

NAME = "layer-autopublish"
FUNCTION = "PublisherFunction"


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


def main(argv):
    dist, version, epoch, x86_64, arm64, wheel = argv
    os.makedirs(dist, exist_ok=True)
    made = []
    for arch, binary in (("x86_64", x86_64), ("arm64", arm64)):
        name = f"{NAME}-{version}-{arch}.zip"
        function_zip(binary, os.path.join(dist, name), int(epoch))
        made.append(name)
    name = f"{NAME}-{version}.template.json"
    with open(os.path.join(dist, name), "w", encoding="utf-8") as f:
        json.dump(deployable_template(version), f, indent=2, sort_keys=True)
        f.write("\n")
    made.append(name)
    shutil.copy(wheel, dist)
    made.append(os.path.basename(wheel))
    with open(os.path.join(dist, "SHA256SUMS"), "w", encoding="utf-8") as sums:
        for name in sorted(made):
            with open(os.path.join(dist, name), "rb") as f:
                sums.write(f"{hashlib.sha256(f.read()).hexdigest()}  {name}\n")
    for name in sorted(made) + ["SHA256SUMS"]:
        print(f"{os.path.getsize(os.path.join(dist, name)):>10}  {os.path.join(dist, name)}")


if __name__ == "__main__":
    main(sys.argv[1:])
