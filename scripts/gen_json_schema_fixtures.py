#!/usr/bin/env python3
"""JSON Schema cases for Loom's schema-to-grammar compiler, checked by the `jsonschema` package.

What it makes: Tests/LoomGenerationTests/Fixtures/json_schema_cases.json, a list of
{"name", "schema", "valid": [text], "invalid": [text]}: every "valid" text validates under the
schema and every "invalid" one does not, as `jsonschema` (Draft 2020-12) decides. The Swift test
(JSONSchemaGrammarTests) checks that the compiled grammar rejects every invalid text and accepts
every valid one. Valid objects list their keys in the order the grammar generates them (llama.cpp's
json-schema-to-grammar: required properties first, each group in schema order); the texts are
json.dumps output (", " and ": " separators, non-ASCII characters as they are).

Check mode, used by the Swift test on documents it generated from the grammars by random walks:
  python3 scripts/gen_json_schema_fixtures.py --check < [{"case": NAME, "documents": [text]}]
prints each document that is not valid JSON or fails its schema and exits 1 if there is any.

Run: pip install jsonschema; python3 scripts/gen_json_schema_fixtures.py
"""
import json
import os
import sys

import jsonschema

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "Tests", "LoomGenerationTests", "Fixtures", "json_schema_cases.json")

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "email": {"type": "string"}},
    "required": ["name", "age"],
}

CASES = [
    ("string", {"type": "string"}, ["", "abc", "caf\u00e9", 'a"b', "line\nbreak", "tab\tand\\"], [1, None, ["a"]]),
    ("integer", {"type": "integer"}, [0, -5, 123456789], [1.5, "1", True, None]),
    ("number", {"type": "number"}, [0, -2.5, 3.25e10, 7], ["7", None, [1]]),
    ("boolean", {"type": "boolean"}, [True, False], [0, "true", None]),
    ("null", {"type": "null"}, [None], [0, "", False]),
    ("type list", {"type": ["string", "null"]}, ["x", None], [1, True]),
    ("empty schema", {}, [{"a": [1, "b", None]}, 3, "s"], []),
    ("enum strings", {"enum": ["red", "green", "blue"]}, ["red", "blue"], ["Red", "yellow", 1]),
    ("enum mixed", {"enum": [1, "one", None, True, [1, 2], {"k": "v"}]}, [1, "one", None, True, [1, 2], {"k": "v"}],
     [2, "two", False, [2, 1]]),
    ("const", {"const": "fixed"}, ["fixed"], ["Fixed", "fixed "]),
    ("const object", {"const": {"a": 1, "b": [True]}}, [{"a": 1, "b": [True]}], [{"a": 1}, {"a": 2, "b": [True]}]),
    ("simple object", PERSON, [{"name": "Ann", "age": 30}, {"name": "Bo", "age": 4, "email": "b@x"}],
     [{"name": "Ann"}, {"age": 3}, {"name": 1, "age": 2}, {"name": "A", "age": "3"}, [], "x"]),
    ("all optional", {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}, "c": {"type": "null"}}},
     [{}, {"a": 1}, {"b": True}, {"c": None}, {"a": 1, "c": None}, {"a": 1, "b": False, "c": None}],
     [{"a": "1"}, {"b": 1}, {"c": 0}, []]),
    ("required order", {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}, "z": {"type": "integer"}},
                        "required": ["z", "x"]},
     [{"x": 1, "z": 3}, {"x": 1, "z": 3, "y": 2}], [{"x": 1}, {"z": 3}, {"y": 2}]),
    ("no additional", {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"], "additionalProperties": False},
     [{"id": 1}], [{"id": 1, "extra": 2}, {}]),
    ("empty closed object", {"type": "object", "additionalProperties": False}, [{}], [{"a": 1}, []]),
    ("any object", {"type": "object"}, [{}, {"k": [1, {"n": None}]}], [[], "o", 1]),
    ("map", {"type": "object", "additionalProperties": {"type": "integer"}}, [{}, {"a": 1, "b": 2}], [{"a": "1"}, {"a": 1.5}]),
    ("nested object", {"type": "object", "properties": {
        "user": PERSON, "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["user"]},
     [{"user": {"name": "A", "age": 1}}, {"user": {"name": "A", "age": 1, "email": "e"}, "tags": ["x", "y"]}],
     [{"tags": []}, {"user": {"name": "A"}}, {"user": {"name": "A", "age": 1}, "tags": [1]}]),
    ("array of integers", {"type": "array", "items": {"type": "integer"}}, [[], [1], [1, 2, 3]], [[1.5], ["1"], {}]),
    ("min items", {"type": "array", "items": {"type": "boolean"}, "minItems": 2}, [[True, False], [True, True, True]],
     [[], [True]]),
    ("max items", {"type": "array", "items": {"type": "null"}, "maxItems": 2}, [[], [None], [None, None]], [[None, None, None]]),
    ("min max items", {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 1, "maxItems": 3}, [["a"], ["a", "b", "b"]],
     [[], ["a", "a", "a", "a"], ["c"]]),
    ("exact items", {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}, [[1, 2]], [[1], [1, 2, 3]]),
    ("tuple", {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
     [["a", 1]], [[1, "a"], ["a", 1, 2], ["a", "b"]]),
    ("string length", {"type": "string", "minLength": 2, "maxLength": 4}, ["ab", "abcd", "\u00e9\u00e9"], ["a", "abcde", ""]),
    ("string min length", {"type": "string", "minLength": 3}, ["abc", "abcdefgh"], ["ab"]),
    ("date", {"type": "string", "format": "date"}, ["2024-02-29", "1999-12-31", "2000-02-29", "2023-04-30"],
     ["2024-13-01", "24-01-01", "2024-01-32", "2023-02-29", "1900-02-29", "2023-04-31", "0000-01-01", "2023-00-10"]),
    ("time", {"type": "string", "format": "time"}, ["12:30:59Z", "23:59:59.123+02:00"], ["24:00:00Z", "12:30Z", "12:30:59"]),
    ("date-time", {"type": "string", "format": "date-time"}, ["2024-01-02T03:04:05Z"], ["2024-01-02 03:04:05Z", "2024-01-02"]),
    ("uuid", {"type": "string", "format": "uuid"}, ["123e4567-e89b-12d3-a456-426614174000"], ["123e4567e89b12d3a456426614174000", "x"]),
    ("pattern anchored", {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3,4}$"}, ["AB-123", "XY-9876"], ["ab-123", "AB-12", "AB-12345"]),
    ("pattern alternation", {"type": "string", "pattern": "^(cat|dog)s?$"}, ["cat", "dogs"], ["cats!", "bird", ""]),
    ("pattern unanchored", {"type": "string", "pattern": "\\d\\d"}, ["42", "a12b"], ["a1b2", ""]),
    ("pattern classes", {"type": "string", "pattern": "^\\w+(\\.\\w+)*@[a-z]+\\.(com|org)$"}, ["a.b@x.com", "joe@site.org"],
     ["@x.com", "a@x.net", "a@X.com"]),
    ("pattern negated class", {"type": "string", "pattern": "^[^0-9]{1,3}$"}, ["abc", "\u00e9"], ["a1", "abcd", ""]),
    ("anyOf", {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 2}]}, [1, "ab"], ["abc", 1.5, None]),
    ("oneOf objects", {"oneOf": [
        {"type": "object", "properties": {"kind": {"const": "a"}, "x": {"type": "integer"}}, "required": ["kind", "x"], "additionalProperties": False},
        {"type": "object", "properties": {"kind": {"const": "b"}, "y": {"type": "string"}}, "required": ["kind", "y"], "additionalProperties": False}]},
     [{"kind": "a", "x": 1}, {"kind": "b", "y": "s"}], [{"kind": "a", "y": "s"}, {"kind": "c", "x": 1}]),
    ("refs", {"$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}, "required": ["x", "y"]}},
              "type": "object", "properties": {"from": {"$ref": "#/$defs/point"}, "to": {"$ref": "#/$defs/point"}}, "required": ["from", "to"]},
     [{"from": {"x": 0, "y": 1.5}, "to": {"x": -1, "y": 2}}], [{"from": {"x": 0}, "to": {"x": 1, "y": 1}}, {"from": {"x": 0, "y": 0}}]),
    ("recursive ref", {"$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"},
                                                                           "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                                          "required": ["value"]}}, "$ref": "#/$defs/node"},
     [{"value": 1}, {"value": 1, "children": [{"value": 2, "children": []}, {"value": 3}]}],
     [{"value": 1, "children": [{}]}, {"children": []}]),
    ("definitions", {"definitions": {"color": {"enum": ["r", "g"]}}, "type": "array", "items": {"$ref": "#/definitions/color"}},
     [["r", "g", "r"], []], [["b"], "r"]),
    ("risk verdict", {"type": "object", "properties": {
        "token": {"type": "string", "minLength": 1},
        "risk": {"enum": ["low", "medium", "high"]},
        "score": {"type": "number"},
        "reasons": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "audited": {"type": "boolean"},
        "listed": {"type": ["string", "null"], "format": "date"}},
        "required": ["token", "risk", "score", "reasons"], "additionalProperties": False},
     [{"token": "PEPE", "risk": "high", "score": 0.93, "reasons": ["no audit"]},
      {"token": "X", "risk": "low", "score": 1, "reasons": ["a", "b"], "audited": True, "listed": None},
      {"token": "X", "risk": "low", "score": 1, "reasons": ["a"], "listed": "2021-05-01"}],
     [{"token": "", "risk": "low", "score": 1, "reasons": ["a"]}, {"token": "A", "risk": "none", "score": 1, "reasons": ["a"]},
      {"token": "A", "risk": "low", "score": 1, "reasons": []}, {"token": "A", "risk": "low", "score": 1, "reasons": ["a"], "x": 1}]),
    ("annotations", {"title": "T", "description": "d", "$schema": "https://json-schema.org/draft/2020-12/schema",
                     "type": "object", "properties": {"a": {"type": "integer", "description": "x", "default": 1, "examples": [2]}}},
     [{}, {"a": 5}], [{"a": "5"}]),
]


def validator(schema):
    """Draft 2020-12 with formats checked (date, time, date-time, uuid are assertions here)."""
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def check():
    by_name = {name: schema for name, schema, _, _ in CASES}
    bad = 0
    total = 0
    for entry in json.load(sys.stdin):
        schema = by_name[entry["case"]]
        for text in entry["documents"]:
            total += 1
            try:
                doc = json.loads(text)
            except ValueError as e:
                print(f"{entry['case']}: not JSON ({e}): {text!r}")
                bad += 1
                continue
            errors = list(validator(schema).iter_errors(doc))
            if errors:
                print(f"{entry['case']}: invalid ({errors[0].message}): {text!r}")
                bad += 1
    print(f"checked {total} documents, {bad} bad")
    sys.exit(1 if bad else 0)


def main():
    if "--check" in sys.argv:
        check()
        return
    out = []
    for name, schema, valid, invalid in CASES:
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = globals()["validator"](schema)
        for doc in valid:
            assert validator.is_valid(doc), (name, doc)
        for doc in invalid:
            assert not validator.is_valid(doc), (name, doc)
        out.append({"name": name, "schema": schema,
                    "valid": [json.dumps(d, ensure_ascii=False) for d in valid],
                    "invalid": [json.dumps(d, ensure_ascii=False) for d in invalid]})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(out)} cases to {OUT}")


if __name__ == "__main__":
    main()
