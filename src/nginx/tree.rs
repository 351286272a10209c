//! Directive tree: parses tokens into nested directives without recursion (a config with
//! 10,000 nested blocks must not overflow the stack), expands `include` (globs, relative to
//! the main file's directory as nginx resolves them, cycles reported), and reads files from
//! disk or from an `nginx -T` dump. Problems become `ConfigIssue`s with file:line, like
//! `nginx -t` prints them; what was read before a problem is kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::lexer::{tokenize, Token};
use crate::facts::ConfigIssue;

/// Deeper nesting than this is reported instead of parsed (nginx configs use a handful).
pub const MAX_DEPTH: usize = 200;
/// Includes nested deeper than this are reported (a cycle through globs, usually).
const MAX_INCLUDE_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    /// Index into `Tree::files`.
    pub file: usize,
    pub line: u32,
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or(&[])
    }
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }
}

/// How configuration files on disk are reached: gather's bounded reader
/// (`gather::files::CONFIG`: regular files only) and its include-glob expansion, so that
/// this module parses and never touches the host itself.
#[derive(Clone, Copy)]
pub struct FileAccess {
    pub read: fn(&Path) -> Result<Vec<u8>, String>,
    /// Files matching an include pattern (directories left out), sorted as nginx's glob is.
    pub glob: fn(&str) -> Vec<PathBuf>,
}

/// [`FileAccess`] for an nginx in another mount namespace: nginx's own paths, reached under
/// a root (the master's `/proc/PID/root`): each function takes `(root, path or pattern)`
/// and the glob gives back nginx's paths, not the rooted ones.
#[derive(Clone, Copy)]
pub struct RootedAccess {
    pub read: fn(&Path, &Path) -> Result<Vec<u8>, String>,
    pub glob: fn(&Path, &str) -> Vec<PathBuf>,
}

/// Where file contents come from.
pub enum Source {
    /// Files on disk.
    Disk(FileAccess),
    /// Files as another mount namespace sees them, under its root; paths stay nginx's own
    /// (what evidence shows), only the reads and include globs go through the root.
    Rooted(RootedAccess, PathBuf),
    /// `nginx -T` output: path → content.
    Dump(BTreeMap<String, Vec<u8>>),
}

impl Source {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        match self {
            Source::Disk(files) => (files.read)(path),
            Source::Rooted(files, root) => (files.read)(root, path),
            Source::Dump(files) => files
                .get(path.to_str().unwrap_or(""))
                .cloned()
                .ok_or_else(|| "not in the nginx -T dump".to_string()),
        }
    }

    /// Paths matching an include pattern, sorted as nginx's glob does.
    fn glob(&self, pattern: &str) -> Vec<PathBuf> {
        match self {
            Source::Disk(files) => (files.glob)(pattern),
            Source::Rooted(files, root) => (files.glob)(root, pattern),
            Source::Dump(files) => match glob::Pattern::new(pattern) {
                Ok(p) => files
                    .keys()
                    .filter(|k| p.matches(k))
                    .map(PathBuf::from)
                    .collect(),
                Err(_) => Vec::new(),
            },
        }
    }
}

/// The parsed configuration: every file read and the expanded directive tree.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    pub files: Vec<String>,
    pub root: Vec<Directive>,
    pub issues: Vec<ConfigIssue>,
}

impl Tree {
    pub fn file(&self, idx: usize) -> &str {
        self.files.get(idx).map(String::as_str).unwrap_or("?")
    }
}

/// Splits `nginx -T` output into its files (`# configuration file PATH:` headers).
pub fn parse_dump(text: &[u8]) -> (Option<String>, BTreeMap<String, Vec<u8>>) {
    let mut files = BTreeMap::new();
    let mut first = None;
    let mut current: Option<(String, Vec<u8>)> = None;
    for line in text.split_inclusive(|&b| b == b'\n') {
        let trimmed = String::from_utf8_lossy(line);
        let t = trimmed.trim_end();
        if let Some(path) = t
            .strip_prefix("# configuration file ")
            .and_then(|r| r.strip_suffix(':'))
        {
            if let Some((p, body)) = current.take() {
                files.insert(p, body);
            }
            first.get_or_insert_with(|| path.to_string());
            current = Some((path.to_string(), Vec::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.extend_from_slice(line);
        }
    }
    if let Some((p, body)) = current {
        files.insert(p, body);
    }
    (first, files)
}

/// Loads `main` and everything it includes.
pub fn load(main: &Path, source: &Source) -> Result<Tree, String> {
    let bytes = source
        .read(main)
        .map_err(|e| format!("open() \"{}\" failed {e}", main.display()))?;
    let conf_dir = main.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut tree = Tree::default();
    let mut stack = vec![main.to_path_buf()];
    let root = parse_file(&mut tree, main, &bytes, &conf_dir, source, &mut stack);
    tree.root = root;
    Ok(tree)
}

fn parse_file(
    tree: &mut Tree,
    path: &Path,
    bytes: &[u8],
    conf_dir: &Path,
    source: &Source,
    stack: &mut Vec<PathBuf>,
) -> Vec<Directive> {
    let idx = tree.files.len();
    tree.files.push(path.display().to_string());
    let mut dirs = parse_tokens(tree, idx, bytes);
    expand_includes(tree, &mut dirs, conf_dir, source, stack);
    dirs
}

/// Builds the directive tree of one file, iteratively.
fn parse_tokens(tree: &mut Tree, file: usize, bytes: &[u8]) -> Vec<Directive> {
    let (tokens, lex_error) = tokenize(bytes);
    let fname = tree.files[file].clone();
    let issue = |tree: &mut Tree, line: u32, message: String| {
        tree.issues.push(ConfigIssue {
            file: fname.clone(),
            line,
            message,
        })
    };
    // frames[0] is the file itself; each other frame is an open block.
    let mut frames: Vec<(Option<Directive>, Vec<Directive>)> = vec![(None, Vec::new())];
    // (text, line it starts on, quoted)
    let mut words: Vec<(String, u32, bool)> = Vec::new();
    let mut stopped = false;
    for tok in tokens {
        match tok {
            Token::Word { text, line, quoted } => {
                words.push((text, line, quoted));
            }
            Token::Raw { .. } => {}
            Token::Semicolon(line) => {
                if words.is_empty() {
                    issue(tree, line, "unexpected \";\"".into());
                    continue;
                }
                if let Some(m) = missing_semicolon(&words) {
                    issue(tree, line, m);
                }
                let d = directive(&mut words, file);
                frames.last_mut().expect("frame").1.push(d);
            }
            Token::Open(line) => {
                if words.is_empty() {
                    issue(tree, line, "unexpected \"{\"".into());
                    stopped = true;
                    break;
                }
                if frames.len() > MAX_DEPTH {
                    issue(tree, line, format!("blocks nested deeper than {MAX_DEPTH} levels; the rest of this file is not read"));
                    stopped = true;
                    break;
                }
                if let Some(m) = missing_semicolon(&words) {
                    issue(tree, line, m);
                }
                let d = directive(&mut words, file);
                frames.push((Some(d), Vec::new()));
            }
            Token::Close(line) => {
                if !words.is_empty() {
                    // nginx -t names the line of the "}".
                    issue(
                        tree,
                        line,
                        format!(
                            "unexpected \"}}\" (directive \"{}\" on line {} is not terminated by \";\")",
                            words[0].0, words[0].1
                        ),
                    );
                    words.clear();
                }
                if frames.len() == 1 {
                    issue(tree, line, "unexpected \"}\"".into());
                    stopped = true;
                    break;
                }
                close_frame(&mut frames);
            }
        }
    }
    // nginx reports an early end of file at the line after the last newline.
    let eof_line = 1 + memchr::memchr_iter(b'\n', bytes).count() as u32;
    if let Some(e) = lex_error {
        issue(tree, e.line, e.message);
    } else if !stopped {
        if !words.is_empty() {
            issue(
                tree,
                eof_line,
                "unexpected end of file, expecting \";\" or \"}\"".into(),
            );
        } else if frames.len() > 1 {
            issue(
                tree,
                eof_line,
                "unexpected end of file, expecting \"}\"".into(),
            );
        }
    }
    // Keep what was read: close every open block.
    while frames.len() > 1 {
        close_frame(&mut frames);
    }
    frames.pop().map(|f| f.1).unwrap_or_default()
}

/// Directive names that, met at the start of a line inside another directive's arguments,
/// mean the line before lacks its `;` (nginx then reads them as arguments and rejects the
/// directive at the line of the `;` or `{` that ends it).
const COMMON_DIRECTIVES: &[&str] = &[
    "access_log",
    "add_header",
    "alias",
    "allow",
    "auth_basic",
    "charset",
    "client_max_body_size",
    "default_type",
    "deny",
    "error_log",
    "error_page",
    "expires",
    "fastcgi_param",
    "fastcgi_pass",
    "grpc_pass",
    "gzip",
    "http",
    "if",
    "include",
    "index",
    "keepalive",
    "keepalive_timeout",
    "limit_req",
    "listen",
    "location",
    "log_format",
    "proxy_buffer_size",
    "proxy_buffering",
    "proxy_connect_timeout",
    "proxy_http_version",
    "proxy_pass",
    "proxy_read_timeout",
    "proxy_send_timeout",
    "proxy_set_header",
    "resolver",
    "return",
    "rewrite",
    "root",
    "sendfile",
    "server",
    "server_name",
    "ssl_certificate",
    "ssl_certificate_key",
    "try_files",
    "upstream",
    "uwsgi_pass",
];

/// "directive X is not terminated by ;" when a known directive name starts a line in the
/// middle of `words` (the statement being closed).
/// A quoted word is never taken for a directive name: nobody quotes one, and a quoted
/// value may span lines itself.
fn missing_semicolon(words: &[(String, u32, bool)]) -> Option<String> {
    let k = (1..words.len()).find(|&k| {
        // The line the previous word ends on (a quoted word may span lines).
        let prev_end = words[k - 1].1 + words[k - 1].0.matches('\n').count() as u32;
        !words[k].2 && words[k].1 > prev_end && COMMON_DIRECTIVES.contains(&words[k].0.as_str())
    })?;
    Some(format!(
        "directive \"{}\" is not terminated by \";\" (nginx reads \"{}\" on line {} as its argument)",
        words[0].0, words[k].0,
        words[k].1
    ))
}

fn directive(words: &mut Vec<(String, u32, bool)>, file: usize) -> Directive {
    let mut it = std::mem::take(words).into_iter();
    let (name, line, _) = it.next().expect("non-empty");
    Directive {
        name,
        args: it.map(|(w, _, _)| w).collect(),
        file,
        line,
        block: None,
    }
}

fn close_frame(frames: &mut Vec<(Option<Directive>, Vec<Directive>)>) {
    let (owner, children) = frames.pop().expect("frame");
    if let Some(mut d) = owner {
        d.block = Some(children);
        frames.last_mut().expect("parent frame").1.push(d);
    }
}

/// Replaces `include` directives by the directives of the files they name, at any depth.
/// Walks with an explicit stack of block paths so deep nesting cannot overflow.
fn expand_includes(
    tree: &mut Tree,
    dirs: &mut Vec<Directive>,
    conf_dir: &Path,
    source: &Source,
    stack: &mut Vec<PathBuf>,
) {
    let mut i = 0;
    while i < dirs.len() {
        if dirs[i].name == "include" && dirs[i].block.is_none() {
            let inc = dirs.remove(i);
            let included = include(tree, &inc, conf_dir, source, stack);
            let n = included.len();
            for (k, d) in included.into_iter().enumerate() {
                dirs.insert(i + k, d);
            }
            i += n;
            continue;
        }
        if let Some(children) = dirs[i].block.as_mut() {
            // Blocks are shallow in practice; MAX_DEPTH bounds this recursion.
            let mut taken = std::mem::take(children);
            expand_includes(tree, &mut taken, conf_dir, source, stack);
            dirs[i].block = Some(taken);
        }
        i += 1;
    }
}

fn include(
    tree: &mut Tree,
    inc: &Directive,
    conf_dir: &Path,
    source: &Source,
    stack: &mut Vec<PathBuf>,
) -> Vec<Directive> {
    let from = tree.file(inc.file).to_string();
    let Some(pattern) = inc.arg(0) else {
        tree.issues.push(ConfigIssue {
            file: from,
            line: inc.line,
            message: "invalid number of arguments in \"include\" directive".into(),
        });
        return Vec::new();
    };
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        conf_dir.join(pattern)
    };
    let is_glob = pattern.contains(['*', '?', '[']);
    let paths = if is_glob {
        source.glob(&full.to_string_lossy())
    } else {
        vec![full.clone()]
    };
    let mut out = Vec::new();
    for p in paths {
        if stack.contains(&p) {
            let chain: Vec<String> = stack
                .iter()
                .chain(std::iter::once(&p))
                .map(|x| x.display().to_string())
                .collect();
            tree.issues.push(ConfigIssue {
                file: from.clone(),
                line: inc.line,
                message: format!("include cycle: {}", chain.join(" → ")),
            });
            continue;
        }
        if stack.len() >= MAX_INCLUDE_DEPTH {
            tree.issues.push(ConfigIssue {
                file: from.clone(),
                line: inc.line,
                message: format!("includes nested deeper than {MAX_INCLUDE_DEPTH} levels"),
            });
            continue;
        }
        match source.read(&p) {
            Ok(bytes) => {
                stack.push(p.clone());
                out.extend(parse_file(tree, &p, &bytes, conf_dir, source, stack));
                stack.pop();
            }
            Err(e) => tree.issues.push(ConfigIssue {
                file: from.clone(),
                line: inc.line,
                message: format!("open() \"{}\" failed {e}", p.display()),
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Tree {
        let mut t = Tree {
            files: vec!["t.conf".into()],
            ..Default::default()
        };
        t.root = parse_tokens(&mut t, 0, src.as_bytes());
        t
    }

    #[test]
    fn nested_blocks_with_lines() {
        let t = parse("events {}\nhttp {\n  server {\n    listen 80;\n  }\n}\n");
        assert!(t.issues.is_empty());
        assert_eq!(t.root[1].name, "http");
        let server = &t.root[1].children()[0];
        assert_eq!((server.name.as_str(), server.line), ("server", 3));
        assert_eq!(server.children()[0].args, ["80"]);
    }

    #[test]
    fn syntax_errors_like_nginx_t() {
        assert_eq!(
            parse("a 1\n").issues[0].message,
            "unexpected end of file, expecting \";\" or \"}\""
        );
        assert_eq!(
            parse("http {\n a 1;\n").issues[0].message,
            "unexpected end of file, expecting \"}\""
        );
        let t = parse("a;\n}\nb;");
        assert_eq!(
            (t.issues[0].line, t.issues[0].message.as_str()),
            (2, "unexpected \"}\"")
        );
        let t = parse("server {\n listen 80\n}\n");
        assert_eq!(
            t.issues[0].line, 3,
            "nginx names the line of the closing brace"
        );
        assert!(t.issues[0]
            .message
            .contains("directive \"listen\" on line 2 is not terminated"));
    }

    #[test]
    fn ten_thousand_nested_blocks_do_not_overflow() {
        let src = "a {".repeat(10_000) + &"}".repeat(10_000);
        let t = parse(&src);
        assert!(
            t.issues[0].message.contains("nested deeper than"),
            "{:?}",
            t.issues
        );
    }

    #[test]
    fn a_quoted_word_on_the_next_line_is_no_missing_semicolon() {
        // Found by tests/properties.rs: a quoted name spanning two lines, then a quoted
        // "server" argument; valid nginx syntax, so no issue.
        let t = parse("\"\n\" \"server\" {\n}\n");
        assert!(t.issues.is_empty(), "{:?}", t.issues);
        // The unquoted case is still caught.
        let t = parse("proxy_pass http://a\nserver { }\n");
        assert!(
            t.issues[0].message.contains("is not terminated by \";\""),
            "{:?}",
            t.issues
        );
    }

    #[test]
    fn binary_garbage_gives_issues_not_panics() {
        let garbage: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let mut t = Tree {
            files: vec!["g".into()],
            ..Default::default()
        };
        let _ = parse_tokens(&mut t, 0, &garbage);
        // nginx rejects this input; so must we, and say where.
        let lines = garbage.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
        assert!(
            !t.issues.is_empty(),
            "garbage parsed without a single issue"
        );
        for i in &t.issues {
            assert_eq!(i.file, "g");
            assert!(
                i.line >= 1 && i.line <= lines,
                "{i}: line outside the input"
            );
            assert!(!i.message.is_empty());
        }
    }

    #[test]
    fn includes_globs_relative_and_cycles() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sites")).unwrap();
        std::fs::write(
            d.join("nginx.conf"),
            "http {\n include sites/*.conf;\n include missing.conf;\n}\n",
        )
        .unwrap();
        std::fs::write(d.join("sites/a.conf"), "server { listen 81; }\n").unwrap();
        std::fs::write(
            d.join("sites/b.conf"),
            "server { listen 82; }\ninclude sites/b.conf;\n",
        )
        .unwrap();
        let t = load(
            &d.join("nginx.conf"),
            &Source::Disk(crate::gather::files::CONFIG),
        )
        .unwrap();
        let http = &t.root[0];
        let servers: Vec<_> = http
            .children()
            .iter()
            .filter(|x| x.name == "server")
            .collect();
        assert_eq!(servers.len(), 2);
        assert_eq!(
            t.file(servers[1].file),
            d.join("sites/b.conf").display().to_string()
        );
        let msgs: Vec<String> = t
            .issues
            .iter()
            .map(|i| format!("{}:{} {}", i.file, i.line, i.message))
            .collect();
        assert!(msgs.iter().any(|m| m.contains("include cycle")), "{msgs:?}");
        assert!(
            msgs.iter().any(|m| m.contains("nginx.conf:3 open()")
                && m.contains("missing.conf")
                && m.contains("(2: No such file or directory)")),
            "{msgs:?}"
        );
    }

    #[test]
    fn dump_files_are_split_and_includes_resolve_from_it() {
        let dump = b"nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n# configuration file /etc/nginx/nginx.conf:\nhttp { include /etc/nginx/conf.d/*.conf; }\n\n# configuration file /etc/nginx/conf.d/shop.conf:\nserver { listen 80; server_name shop; }\n";
        let (main, files) = parse_dump(dump);
        assert_eq!(main.as_deref(), Some("/etc/nginx/nginx.conf"));
        let t = load(Path::new("/etc/nginx/nginx.conf"), &Source::Dump(files)).unwrap();
        assert!(t.issues.is_empty(), "{:?}", t.issues);
        assert_eq!(t.root[0].children()[0].name, "server");
        assert_eq!(t.files.len(), 2);
    }
}
