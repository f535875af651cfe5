"""The emulator's lean transactions keep moto's all-or-nothing rule."""

import unittest

import boto3
from moto import mock_aws

import emulator

emulator.lean_transactions()


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
