"""Reads template.yaml with its CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...)
turned into their long form ({"Ref": ...}, {"Fn::GetAtt": [...]}, ...)."""

import yaml


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)
