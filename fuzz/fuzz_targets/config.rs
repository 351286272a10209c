//! The nginx configuration lexer, directive tree, include handling and route selection.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use badgw::facts::RequestSpec;
use badgw::nginx::{self, tree};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nginx::lexer::tokenize(data);
    let mut files = BTreeMap::new();
    files.insert("/f/nginx.conf".to_string(), data.to_vec());
    // An include of itself or of a glob exercises cycle and glob handling too.
    files.insert("/f/inc.conf".to_string(), data.to_vec());
    let _ = tree::load(Path::new("/f/nginx.conf"), &tree::Source::Dump(files));
    let text = String::from_utf8_lossy(data);
    let loaded = nginx::load(&nginx::LoadOptions {
        conf_path: "/f/nginx.conf".into(),
        prefix: Some("/f".into()),
        dump: Some(format!("# configuration file /f/nginx.conf:\n{text}")),
    }, badgw::gather::files::read_config);
    if let Ok(config) = loaded {
        for (site, path) in [("x.test", "/"), ("shop.example.com", "/api/orders")] {
            let req = RequestSpec {
                site: site.into(),
                path: path.into(),
                ..Default::default()
            };
            let _ = nginx::route(&config, &req, &|_, _| Vec::new());
        }
    }
});
