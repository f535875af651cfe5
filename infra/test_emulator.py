"""The emulator's lean transactions keep moto's all-or-nothing rule; its lean queries give
moto's answers."""

import unittest

import boto3
from moto import mock_aws

import emulator

emulator.lean_transactions()
emulator.lean_queries()


def s(value):
    return {"S": value}


@mock_aws
class LeanTransactions(unittest.TestCase):
    def setUp(self):
        self.db = boto3.client("dynamodb", region_name="us-east-1")
        self.db.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.db.put_item(TableName="t", Item={"pk": s("a"), "sk": s("1"), "v": s("old")})

    def item(self, pk, sk):
        return self.db.get_item(TableName="t", Key={"pk": s(pk), "sk": s(sk)}, ConsistentRead=True).get("Item")

    def test_a_cancelled_transaction_changes_nothing(self):
        with self.assertRaises(self.db.exceptions.TransactionCanceledException):
            self.db.transact_write_items(
                TransactItems=[
                    {"Update": {"TableName": "t", "Key": {"pk": s("a"), "sk": s("1")},
                                "UpdateExpression": "SET v = :new", "ExpressionAttributeValues": {":new": s("new")}}},
                    {"Put": {"TableName": "t", "Item": {"pk": s("b"), "sk": s("1")}}},
                    {"Delete": {"TableName": "t", "Key": {"pk": s("c"), "sk": s("1")},
                                "ConditionExpression": "attribute_exists(pk)"}},
                ]
            )
        self.assertEqual(self.item("a", "1")["v"], s("old"))
        self.assertIsNone(self.item("b", "1"))

    def test_a_transaction_that_passes_writes_everything(self):
        self.db.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": "t", "Key": {"pk": s("a"), "sk": s("1")}}},
                {"Put": {"TableName": "t", "Item": {"pk": s("b"), "sk": s("1")},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ]
        )
        self.assertIsNone(self.item("a", "1"))
        self.assertIsNotNone(self.item("b", "1"))


if __name__ == "__main__":
    unittest.main()


@mock_aws
class LeanQueries(unittest.TestCase):
    def setUp(self):
        import random

        self.db = boto3.client("dynamodb", region_name="us-east-1")
        self.db.create_table(
            TableName="q",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {"IndexName": "gsi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                 "Projection": {"ProjectionType": "ALL"}}
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        keys = [(pk, f"{kind}#{n:03d}") for pk in "abc" for kind in ("USAGE", "MCP") for n in range(23)]
        random.Random(7).shuffle(keys)
        for pk, sk in keys:
            self.db.put_item(TableName="q", Item={"pk": s(pk), "sk": s(sk), "g": s("all")})

    def pages(self, forward=True, prefix=None, index=None):
        condition = "pk = :pk" if index is None else "g = :pk"
        values = {":pk": s("b" if index is None else "all")}
        if prefix:
            condition += " AND begins_with(sk, :p)"
            values[":p"] = s(prefix)
        seen, start = [], None
        while True:
            kwargs = {"ExclusiveStartKey": start} if start else {}
            if index:
                kwargs["IndexName"] = index
            page = self.db.query(TableName="q", KeyConditionExpression=condition, ExpressionAttributeValues=values,
                                 Limit=7, ScanIndexForward=forward, **kwargs)
            seen += [(i["pk"]["S"], i["sk"]["S"]) for i in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                return seen

    def test_pages_of_one_partition_in_both_orders(self):
        everything = sorted(("b", f"{kind}#{n:03d}") for kind in ("USAGE", "MCP") for n in range(23))
        self.assertEqual(self.pages(), everything)
        self.assertEqual(self.pages(forward=False), everything[::-1])
        usage = [k for k in everything if k[1].startswith("USAGE#")]
        self.assertEqual(self.pages(prefix="USAGE#"), usage)
        self.assertEqual(self.pages(forward=False, prefix="USAGE#"), usage[::-1])

    def test_an_index_query_still_sees_every_partition_in_order(self):
        found = self.pages(index="gsi")
        self.assertEqual(len(found), 3 * 46)
        self.assertEqual(len(set(found)), len(found), "no item twice across pages")
        self.assertEqual([sk for _, sk in found], sorted(sk for _, sk in found))

