//! Embeds the settings pages (`ui/`) in the binary: every asset gets a content-hashed
//! name (`app.<hash>.js`), and `index.html` names them so. Writes `$OUT_DIR/ui.rs` (the
//! asset table) and `$OUT_DIR/index.html`.

use std::fmt::Write as _;
use std::path::Path;

/// 64-bit FNV-1a: enough to give a changed file a new name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        other => panic!("ui/: no content type for {other:?}"),
    }
}

fn main() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed={}", ui.display());
    let mut index = std::fs::read_to_string(ui.join("index.html")).expect("ui/index.html");
    let mut names: Vec<_> = std::fs::read_dir(&ui)
        .expect("ui/")
        .map(|entry| {
            entry
                .expect("ui/ entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name")
        })
        .filter(|name| name != "index.html")
        .collect();
    names.sort();
    let mut table = String::from("pub const ASSETS: &[Asset] = &[\n");
    for name in names {
        let path = ui.join(&name);
        let bytes = std::fs::read(&path).expect("asset");
        let (stem, ext) = name.rsplit_once('.').expect("an asset has an extension");
        let hashed = format!("{stem}.{:016x}.{ext}", fnv1a(&bytes));
        let reference = format!("assets/{name}");
        assert!(
            index.contains(&reference) || ext != "js" && ext != "css",
            "ui/index.html does not load {reference}"
        );
        index = index.replace(&reference, &format!("assets/{hashed}"));
        writeln!(
            table,
            "    Asset {{ name: {hashed:?}, content_type: {:?}, body: include_bytes!({:?}) }},",
            content_type(&name),
            path.display().to_string()
        )
        .expect("write");
    }
    table.push_str("];\n");
    std::fs::write(out.join("ui.rs"), table).expect("ui.rs");
    std::fs::write(out.join("index.html"), index).expect("index.html");
}
