//! A list answer is `Page<T>`, which utoipa writes out as `Page_T` with `T`'s schema
//! copied inline. Its items refer to `T`'s own schema instead, so a generated client has
//! one type per kind of item.

use utoipa::openapi::schema::ArrayItems;
use utoipa::openapi::{OpenApi, Ref, RefOr, Schema};

pub fn reference_items(doc: &mut OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let pages: Vec<(String, String)> = components
        .schemas
        .keys()
        .filter_map(|name| {
            let item = name.strip_prefix("Page_")?;
            components
                .schemas
                .contains_key(item)
                .then(|| (name.clone(), item.to_owned()))
        })
        .collect();
    for (page, item) in pages {
        let Some(RefOr::T(Schema::Object(page))) = components.schemas.get_mut(&page) else {
            continue;
        };
        if let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items") {
            items.items = ArrayItems::RefOrSchema(Box::new(Ref::from_schema_name(item).into()));
        }
    }
}
