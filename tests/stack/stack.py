"""What CloudFormation makes of template.yaml, for the tests.

    stack.py translate
        The template after the SAM transform (samtranslator, as `sam deploy`
        runs it), as JSON: what moto's CloudFormation is given.
    stack.py resolve PARAMETERS_JSON
        The resources and outputs CloudFormation would create for these
        parameter values, every intrinsic function resolved with its
        semantics: conditions decide which resources and list items exist,
        `AWS::NoValue` removes the item or key, `!GetAtt LogGroup.Arn` ends in
        `:*`, a queue's `Ref` is its URL. Physical names are made as
        CloudFormation makes them ({stack}-{LogicalId}-{SUFFIX}).
    stack.py deploy ENDPOINT STACK PARAMETERS_JSON [update]
        Creates (or updates) the stack on moto's CloudFormation at ENDPOINT
        (moto_cloudformation.py) from the translated template and prints its
        status, the resources and outputs it has, and those the template
        gives this parameter set (`template`: each resource's type, the
        outputs' names), as JSON.

The account, region and partition are moto's defaults (123456789012,
us-east-1, aws) unless the environment's AWS_DEFAULT_REGION says otherwise.
"""

import ast
import hashlib
import json
import os
import sys
import time

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "..", "..", "template.yaml")
ACCOUNT = "123456789012"
PARTITION = "aws"
CODE_BUCKET = "layer-autopublish-code"
CODE_KEY = "bootstrap.zip"


class NoValue:
    """`AWS::NoValue`: removed from the list or mapping that holds it."""


NO_VALUE = NoValue()


def region():
    return os.environ.get("AWS_DEFAULT_REGION", "us-east-1")


def translate():
    """The template after the SAM transform, its code in CODE_BUCKET."""
    with open(TEMPLATE, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    function = template["Resources"]["PublisherFunction"]["Properties"]
    function["CodeUri"] = f"s3://{CODE_BUCKET}/{CODE_KEY}"

    class NoManagedPolicies:
        def load(self):
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", region())
    return transform(template, {}, NoManagedPolicies())


def physical_name(stack, logical):
    suffix = hashlib.sha256(f"{stack}/{logical}".encode()).hexdigest()[:12].upper()
    return f"{stack}-{logical}-{suffix}"


class Resolver:
    def __init__(self, template, parameters, stack, names=None):
        self.template = template
        self.stack = stack
        # Physical names already given (a deployed stack's), by logical id.
        self.names = names or {}
        self.region = region()
        self.values = {}
        for name, spec in template.get("Parameters", {}).items():
            if name in parameters:
                self.values[name] = str(parameters[name])
            elif "Default" in spec:
                self.values[name] = str(spec["Default"])
            else:
                raise SystemExit(f"parameter {name} has no value and no default")
        unknown = set(parameters) - set(template.get("Parameters", {}))
        if unknown:
            raise SystemExit(f"no such parameters: {sorted(unknown)}")
        self.conditions = {}
        self.resources = {
            logical: resource
            for logical, resource in template["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    # Conditions.
    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = self.truth(self.template["Conditions"][name])
        return self.conditions[name]

    def truth(self, node):
        (function, args), = node.items()
        if function == "Condition":
            return self.condition(args)
        if function == "Fn::Equals":
            a, b = (self.resolve(x) for x in args)
            return str(a) == str(b)
        if function == "Fn::Not":
            return not self.truth(args[0])
        if function == "Fn::And":
            return all(self.truth(x) for x in args)
        if function == "Fn::Or":
            return any(self.truth(x) for x in args)
        raise SystemExit(f"not a condition function: {function}")

    # Names and attributes.
    def name_of(self, logical):
        if logical in self.names:
            return self.names[logical]
        resource = self.resources[logical]
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::S3::Bucket" and "BucketName" in props:
            return self.resolve(props["BucketName"])
        return physical_name(self.stack, logical)

    def ref(self, name):
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self.stack,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.values:
            return self.values[name]
        if name not in self.resources:
            raise SystemExit(f"Ref to {name}, which this parameter set does not create")
        kind = self.resources[name]["Type"]
        resource_name = self.name_of(name)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/{resource_name}"
        if kind == "AWS::IAM::ManagedPolicy":
            return f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{resource_name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{self.region}:{ACCOUNT}:{resource_name}"
        return resource_name

    def get_att(self, logical, attribute):
        if logical not in self.resources:
            raise SystemExit(f"GetAtt of {logical}, which this parameter set does not create")
        kind = self.resources[logical]["Type"]
        name = self.name_of(logical)
        r, a, p = self.region, ACCOUNT, PARTITION
        arns = {
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
            # A log group's ARN as CloudFormation gives it: with `:*`.
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::Events::Rule": f"arn:{p}:events:{r}:{a}:rule/{name}",
            "AWS::SNS::Topic": f"arn:{p}:sns:{r}:{a}:{name}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute == "QueueName" and kind == "AWS::SQS::Queue":
            return name
        raise SystemExit(f"GetAtt {logical}.{attribute} ({kind}) is not known here")

    def sub(self, text, variables):
        out, i = [], 0
        while i < len(text):
            start = text.find("${", i)
            if start < 0:
                out.append(text[i:])
                break
            out.append(text[i:start])
            end = text.index("}", start)
            name = text[start + 2 : end]
            if name.startswith("!"):
                out.append("${" + name[1:] + "}")
            elif name in variables:
                out.append(str(variables[name]))
            elif "." in name and name.split(".", 1)[0] in self.template["Resources"]:
                out.append(self.get_att(*name.split(".", 1)))
            else:
                out.append(str(self.ref(name)))
            i = end + 1
        return "".join(out)

    # Values.
    def resolve(self, node):
        if isinstance(node, list):
            items = [self.resolve(x) for x in node]
            return [x for x in items if x is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, args), = node.items()
            if key == "Ref":
                return self.ref(args)
            if key == "Fn::GetAtt":
                logical, attribute = args.split(".", 1) if isinstance(args, str) else args
                return self.get_att(logical, attribute)
            if key == "Fn::Sub":
                if isinstance(args, str):
                    return self.sub(args, {})
                text, variables = args
                return self.sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if key == "Fn::If":
                condition, then, otherwise = args
                return self.resolve(then if self.condition(condition) else otherwise)
            if key == "Fn::Split":
                delimiter, text = args
                return str(self.resolve(text)).split(delimiter)
            if key == "Fn::Select":
                index, items = args
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Join":
                delimiter, items = args
                return delimiter.join(str(x) for x in self.resolve(items))
            if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
                return self.truth(node)
            if key.startswith("Fn::"):
                raise SystemExit(f"{key} is not resolved here")
        out = {}
        for key, value in node.items():
            value = self.resolve(value)
            if value is not NO_VALUE:
                out[key] = value
        return out

    def stack_resources(self):
        out = {}
        for logical, resource in self.resources.items():
            resolved = {
                "Type": resource["Type"],
                "Properties": self.resolve(resource.get("Properties", {})),
                "Name": self.name_of(logical),
            }
            try:
                resolved["Arn"] = self.get_att(logical, "Arn")
            except SystemExit:
                pass
            out[logical] = resolved
        return out

    def outputs(self):
        return {
            name: self.resolve(output["Value"])
            for name, output in self.template.get("Outputs", {}).items()
            if "Condition" not in output or self.condition(output["Condition"])
        }


def resolve(parameters, stack="layer-autopublish"):
    resolver = Resolver(translate(), parameters, stack)
    return {"resources": resolver.stack_resources(), "outputs": resolver.outputs()}


def deploy(endpoint, stack, parameters, update):
    import boto3
    import io
    import zipfile

    session = dict(
        endpoint_url=endpoint,
        region_name=region(),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3 = boto3.client("s3", **session)
    cloudformation = boto3.client("cloudformation", **session)
    try:
        s3.create_bucket(Bucket=CODE_BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=code.getvalue())
    translated = translate()
    arguments = dict(
        StackName=stack,
        TemplateBody=json.dumps(translated),
        Parameters=[
            {"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    if update:
        cloudformation.update_stack(**arguments)
    else:
        cloudformation.create_stack(**arguments)
    deadline = time.time() + 120
    while True:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        if not described["StackStatus"].endswith("_IN_PROGRESS") or time.time() > deadline:
            break
        time.sleep(0.2)
    resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    # The resolver, given moto's physical names, resolves the template as
    # moto's CloudFormation did: the policies and outputs must agree.
    names = {
        r["LogicalResourceId"]: name_in(r.get("PhysicalResourceId", ""))
        for r in resources
        if "LogicalResourceId" in r
    }
    expected = Resolver(translated, parameters, stack, names)
    iam = boto3.client("iam", **session)
    role = names["PublisherRole"]
    ci_policy = [r["PhysicalResourceId"] for r in resources if r.get("LogicalResourceId") == "CiUploadPolicy"]
    logs = boto3.client("logs", **session)
    log_group = logs.describe_log_groups(logGroupNamePrefix=names["PublisherLogGroup"])
    resolved = expected.stack_resources()
    return {
        "parameters": parameters,
        "status": described["StackStatus"],
        "reason": described.get("StackStatusReason", ""),
        # A type moto does not model is listed without a logical id.
        "resources": {
            r["LogicalResourceId"]: {
                "Type": r["ResourceType"],
                "PhysicalId": r.get("PhysicalResourceId", ""),
                "Status": r["ResourceStatus"],
            }
            for r in resources
            if "LogicalResourceId" in r
        },
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        "policies": {
            "role": {
                name: document(iam.get_role_policy(RoleName=role, PolicyName=name))
                for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
            },
            # moto drops a managed policy from a stack it updates.
            "ci": managed_policy(iam, ci_policy[0]) if ci_policy else None,
        },
        "log_group_retention": log_group["logGroups"][0].get("retentionInDays"),
        "template": {
            "resources": {k: r["Type"] for k, r in resolved.items()},
            "outputs": expected.outputs(),
            "environment": resolved["PublisherFunction"]["Properties"]["Environment"]["Variables"],
            "architectures": resolved["PublisherFunction"]["Properties"]["Architectures"],
            "policies": {
                "role": {
                    p["PolicyName"]: p["PolicyDocument"]
                    for p in resolved["PublisherRole"]["Properties"]["Policies"]
                },
                "ci": resolved["CiUploadPolicy"]["Properties"]["PolicyDocument"],
            },
        },
    }


def managed_policy(iam, arn):
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]


def document(role_policy):
    """A role's inline policy as moto gives it: a policy CloudFormation made
    comes back as Python's text of the document, not JSON."""
    found = role_policy["PolicyDocument"]
    return ast.literal_eval(found) if isinstance(found, str) else found


def name_in(physical_id):
    """A resource's name in its physical id (an ARN's or a queue URL's last
    part)."""
    return physical_id.rsplit("/", 1)[-1].rsplit(":", 1)[-1] if physical_id.startswith(
        ("arn:", "https:")
    ) else physical_id


def main(argv):
    if argv[:1] == ["translate"]:
        json.dump(translate(), sys.stdout)
    elif argv[:1] == ["resolve"] and len(argv) == 2:
        json.dump(resolve(json.loads(argv[1])), sys.stdout)
    elif argv[:1] == ["deploy"] and len(argv) in (4, 5):
        endpoint, stack, parameters = argv[1], argv[2], json.loads(argv[3])
        json.dump(deploy(endpoint, stack, parameters, argv[4:] == ["update"]), sys.stdout)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
