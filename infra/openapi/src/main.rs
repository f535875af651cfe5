//! `make openapi`: writes the document to `functions/platform/openapi.json` (or the path
//! given), from the workspace root.

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| openapi_document::COMMITTED.to_owned());
    std::fs::write(&path, openapi_document::json())?;
    eprintln!("wrote {path}");
    Ok(())
}
