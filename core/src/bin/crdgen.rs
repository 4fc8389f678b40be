//! Prints the CRDs generated from the Rust types, or writes them to a directory.
//!
//! `fed-crdgen` prints a multi-document YAML stream; `fed-crdgen --out-dir manifests/crds`
//! rewrites one file per CRD (what `make manifests` does).

use std::process::ExitCode;

use fed_core::crd::{file_name, shipped_crds, to_yaml};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {
            for crd in shipped_crds() {
                print!("---\n{}", to_yaml(&crd));
            }
            ExitCode::SUCCESS
        }
        [flag, dir] if flag == "--out-dir" => {
            for crd in shipped_crds() {
                let path = std::path::Path::new(dir).join(file_name(&crd));
                if let Err(e) = std::fs::write(&path, to_yaml(&crd)) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: fed-crdgen [--out-dir DIR]");
            ExitCode::from(2)
        }
    }
}
