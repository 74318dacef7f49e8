"""moto's server, for creating the template's stack (tests/on_moto/deployed.rs,
and deploying.rs: `layerctl deploy`).

    moto_cloudformation.py -H HOST -p PORT

It is the pinned moto server with two departures from CloudFormation
corrected. First, a change set: moto applies its resources to the stack but
keeps the stack's template, and so its outputs, as they were (none, for a
stack a change set created); CloudFormation's stack after a change set has
the change set's template and its outputs. Second, moto resolves `!Ref AWS::NoValue` to null and removes it from a
mapping, but keeps it in a list, where CloudFormation removes the item. The
template's optional statements (`!If [Part, {...}, !Ref AWS::NoValue]` in a
policy's `Statement`) would reach IAM as `null` and fail the stack with
MalformedPolicyDocument. Nothing else is changed; what moto still does not
do (the resource types it skips, a bucket's notification configuration) is
said by the test.
"""

import sys

import moto.cloudformation.models as models
import moto.cloudformation.parsing as parsing
from moto.server import main

_apply = models.ChangeSet.apply


def apply(change_set):
    _apply(change_set)
    stack = change_set.stack
    stack.template = change_set.template
    stack._parse_template()
    stack.output_map = stack._create_output_map()


models.ChangeSet.apply = apply

_clean_json = parsing.clean_json


def clean_json(resource_json, resources_map):
    if isinstance(resource_json, list):
        items = (clean_json(item, resources_map) for item in resource_json)
        return [item for item in items if item is not None]
    return _clean_json(resource_json, resources_map)


parsing.clean_json = clean_json

if __name__ == "__main__":
    main(sys.argv[1:])
