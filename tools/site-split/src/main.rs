//! `site-split <input.wasm> <pkg-dir> <output-name>`
//!
//! Writes `<pkg-dir>/<output-name>_split.wasm` (the main module, for
//! wasm-bindgen), one `.wasm` per split chunk, the loader
//! `__wasm_split.______________________.js` and `__wasm_split_manifest.json`,
//! the names Leptos' `HydrationScripts` looks for when files are not hashed.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, pkg, name] = args.as_slice() else {
        eprintln!("usage: site-split <input.wasm> <pkg-dir> <output-name>");
        return ExitCode::from(2);
    };
    match run(input.into(), pkg.into(), name) {
        Ok(n) => {
            println!("split into the main module and {n} chunks");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("site-split: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(input: PathBuf, pkg: PathBuf, name: &str) -> Result<usize, Box<dyn std::error::Error>> {
    let wasm = std::fs::read(&input)?;
    let main_out = pkg.join(format!("{name}_split.wasm"));
    let main_module = format!("./{name}.js");
    let mut opts = wasm_split_cli_support::Options::new(&wasm);
    opts.output_dir = &pkg;
    opts.main_out_path = &main_out;
    opts.main_module = &main_module;
    opts.link_name = "./__wasm_split.______________________.js";
    let split = wasm_split_cli_support::transform(opts)?;
    let manifest = serde_json::to_string_pretty(&split.prefetch_map)?;
    std::fs::write(pkg.join("__wasm_split_manifest.json"), manifest)?;
    Ok(split.split_modules.len())
}
