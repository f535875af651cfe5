//! The writes of a transaction, each with the condition it must hold under (`Cond`):
//! what a handler decided from what it read goes to DynamoDB as a condition.

use super::{Item, Key, StoreError, Table};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use std::collections::HashMap;

fn put_item(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let built = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Aws(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(built).build())
}

fn with_condition(write: TransactWriteItem, condition: &str) -> TransactWriteItem {
    match write.put {
        Some(mut p) => {
            p.condition_expression = Some(condition.to_owned());
            TransactWriteItem::builder().put(p).build()
        }
        None => write,
    }
}

/// A conditional put of `item` into the table.
pub fn put(table: &Table, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
    put_item(table.name(), item).map(|w| with_condition(w, condition))
}

/// A delete of `key`, optionally conditional (e.g. `attribute_exists(pk)` to learn that
/// the item was already gone).
pub fn delete(table: &Table, key: &Key, condition: Option<&str>) -> TransactWriteItem {
    let built = aws_sdk_dynamodb::types::Delete::builder()
        .table_name(table.name())
        .set_key(Some(key.to_item()))
        .set_condition_expression(condition.map(str::to_owned))
        .build();
    match built {
        Ok(delete) => TransactWriteItem::builder().delete(delete).build(),
        // Only reachable without a table name or key, which `Table` and `Key` always have.
        Err(_) => TransactWriteItem::builder().build(),
    }
}

/// `SET` of `sets` on `key`, only if the item exists and (when given) `expect` holds
/// (`attr = value`): the guard against a lost update between read and write.
pub fn update_if(
    table: &Table,
    key: &Key,
    sets: &[(&str, AttributeValue)],
    expect: Option<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let mut update = UpdateExpression::default();
    for (attr, value) in sets {
        let (name, value) = (update.name(attr), update.value(value.clone()));
        update.sets.push(format!("{name} = {value}"));
    }
    let mut condition = "attribute_exists(pk)".to_owned();
    if let Some((attr, value)) = expect {
        let (name, value) = (update.name(attr), update.value(value));
        condition.push_str(&format!(" AND {name} = {value}"));
    }
    let expression = format!("SET {}", update.sets.join(", "));
    let cond = Cond {
        expression: condition,
        names: update.names,
        values: update.values,
    };
    update_with(table, key, &expression, &cond)
}

/// A condition expression with its placeholders, for the writes of a transaction that
/// must hold what the handler decided on (`#role = :role`, `invitation_id = :id`).
#[derive(Clone, Debug, Default)]
pub struct Cond {
    expression: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Cond {
    pub fn new(expression: impl Into<String>) -> Self {
        Cond {
            expression: expression.into(),
            ..Cond::default()
        }
    }

    /// `#placeholder` → attribute name.
    pub fn name(mut self, placeholder: &str, attr: &str) -> Self {
        self.names.insert(placeholder.to_owned(), attr.to_owned());
        self
    }

    /// `:placeholder` → value.
    pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.to_owned(), value);
        self
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// A put of `item` that commits only if `cond` holds.
pub fn put_if(table: &Table, item: Item, cond: &Cond) -> Result<TransactWriteItem, StoreError> {
    let built = Put::builder()
        .table_name(table.name())
        .set_item(Some(item))
        .condition_expression(&cond.expression)
        .set_expression_attribute_names(cond.names())
        .set_expression_attribute_values(cond.values())
        .build()
        .map_err(|e| StoreError::Aws(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(built).build())
}

/// A delete of `key` that commits only if `cond` holds.
pub fn delete_if(table: &Table, key: &Key, cond: &Cond) -> Result<TransactWriteItem, StoreError> {
    let built = aws_sdk_dynamodb::types::Delete::builder()
        .table_name(table.name())
        .set_key(Some(key.to_item()))
        .condition_expression(&cond.expression)
        .set_expression_attribute_names(cond.names())
        .set_expression_attribute_values(cond.values())
        .build()
        .map_err(|e| StoreError::Aws(e.to_string()))?;
    Ok(TransactWriteItem::builder().delete(built).build())
}

/// An update of `key` by `expression` that commits only if `cond` holds; `cond` carries
/// the placeholders of both expressions.
pub fn update_with(
    table: &Table,
    key: &Key,
    expression: &str,
    cond: &Cond,
) -> Result<TransactWriteItem, StoreError> {
    let built = Update::builder()
        .table_name(table.name())
        .set_key(Some(key.to_item()))
        .update_expression(expression)
        .condition_expression(&cond.expression)
        .set_expression_attribute_names(cond.names())
        .set_expression_attribute_values(cond.values())
        .build()
        .map_err(|e| StoreError::Aws(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(built).build())
}

/// No change to `key`; the transaction commits only if `cond` holds on it.
pub fn check(table: &Table, key: &Key, cond: &Cond) -> Result<TransactWriteItem, StoreError> {
    let built = aws_sdk_dynamodb::types::ConditionCheck::builder()
        .table_name(table.name())
        .set_key(Some(key.to_item()))
        .condition_expression(&cond.expression)
        .set_expression_attribute_names(cond.names())
        .set_expression_attribute_values(cond.values())
        .build()
        .map_err(|e| StoreError::Aws(e.to_string()))?;
    Ok(TransactWriteItem::builder().condition_check(built).build())
}

/// An `UPDATE` expression being built (a mutation's owner item, `update_if`), with generated attribute names so that
/// reserved words (`name`, `status`, `role`) need no care at the call site.
#[derive(Clone, Default)]
pub struct UpdateExpression {
    pub sets: Vec<String>,
    pub removes: Vec<String>,
    pub conditions: Vec<String>,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl UpdateExpression {
    /// One placeholder per attribute, however often the expression names it.
    pub fn name(&mut self, attr: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| *a == attr) {
            return placeholder.clone();
        }
        let placeholder = format!("#o{}", self.names.len());
        self.names.insert(placeholder.clone(), attr.to_owned());
        placeholder
    }

    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":o{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }
}
