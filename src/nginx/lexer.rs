//! Tokenizer for nginx's configuration syntax, on bytes (ngx_conf_read_token's rules):
//! words separated by whitespace, `;`, `{`, `}`; `#` comments outside quotes; single and
//! double quotes with backslash escapes; `${var}` kept inside a word; `*_by_lua_block`
//! bodies taken raw with their braces balanced (Lua strings and comments may hold braces).
//! Non-UTF-8 bytes are kept (lossily) so one bad byte never stops the parse.

/// One token with the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Word {
        text: String,
        quoted: bool,
        line: u32,
    },
    Semicolon(u32),
    Open(u32),
    Close(u32),
    /// The raw body of a `*_by_lua_block { … }`, braces excluded.
    Raw {
        text: String,
        line: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct LexError {
    pub line: u32,
    pub message: String,
}

/// Splits `src` into tokens. A lexical error (an unterminated quote) ends the token stream
/// with what came before it, and the error.
pub fn tokenize(src: &[u8]) -> (Vec<Token>, Option<LexError>) {
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut line: u32 = 1;
    let n = src.len();
    while i < n {
        let c = src[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'#' => {
                while i < n && src[i] != b'\n' {
                    i += 1;
                }
            }
            b';' => {
                tokens.push(Token::Semicolon(line));
                i += 1;
            }
            b'{' => {
                tokens.push(Token::Open(line));
                i += 1;
                // The previous word names a Lua block: its body is code, not directives.
                if is_lua_block(&tokens) {
                    let start_line = line;
                    match raw_block(src, i, &mut line) {
                        Some((text, next)) => {
                            tokens.push(Token::Raw {
                                text,
                                line: start_line,
                            });
                            tokens.push(Token::Close(line));
                            i = next;
                        }
                        None => return (
                            tokens,
                            Some(LexError {
                                line: start_line,
                                message:
                                    "unexpected end of file, expecting \"}\" to close the Lua block"
                                        .into(),
                            }),
                        ),
                    }
                }
            }
            b'}' => {
                tokens.push(Token::Close(line));
                i += 1;
            }
            b'"' | b'\'' => {
                let start_line = line;
                let quote = c;
                i += 1;
                let mut word = Vec::new();
                loop {
                    if i >= n {
                        // nginx reads on to the end of the file and reports it there, at
                        // the line after the last newline.
                        return (
                            tokens,
                            Some(LexError {
                                line,
                                message: format!(
                                    "unexpected end of file, expecting \";\" or \"}}\" (a {} quote opened on line {start_line} is never closed)",
                                    if quote == b'"' { "double" } else { "single" }
                                ),
                            }),
                        );
                    }
                    let b = src[i];
                    if b == b'\\' && i + 1 < n {
                        // nginx keeps the backslash except before the quote or another backslash
                        // (and \t \r \n, which it turns into the control character).
                        let next = src[i + 1];
                        match next {
                            b'"' | b'\'' | b'\\' => word.push(next),
                            b't' => word.push(b'\t'),
                            b'r' => word.push(b'\r'),
                            b'n' => word.push(b'\n'),
                            _ => {
                                word.push(b'\\');
                                word.push(next);
                            }
                        }
                        if next == b'\n' {
                            line += 1;
                        }
                        i += 2;
                        continue;
                    }
                    if b == quote {
                        i += 1;
                        break;
                    }
                    if b == b'\n' {
                        line += 1;
                    }
                    word.push(b);
                    i += 1;
                }
                tokens.push(Token::Word {
                    text: String::from_utf8_lossy(&word).into_owned(),
                    quoted: true,
                    line: start_line,
                });
            }
            _ => {
                let start = i;
                let mut word = Vec::new();
                while i < n {
                    let b = src[i];
                    if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b';') {
                        break;
                    }
                    // `{` and `}` end a word, except inside `${var}`.
                    if b == b'{' && !(i > start && src[i - 1] == b'$') {
                        break;
                    }
                    if b == b'}' && !inside_var(&word) {
                        break;
                    }
                    if b == b'\\' && i + 1 < n {
                        word.push(b);
                        word.push(src[i + 1]);
                        i += 2;
                        continue;
                    }
                    word.push(b);
                    i += 1;
                }
                tokens.push(Token::Word {
                    text: String::from_utf8_lossy(&word).into_owned(),
                    quoted: false,
                    line,
                });
            }
        }
    }
    (tokens, None)
}

/// Whether `word` has an unclosed `${`.
fn inside_var(word: &[u8]) -> bool {
    let open = word.windows(2).rposition(|w| w == b"${");
    match open {
        Some(p) => !word[p..].contains(&b'}'),
        None => false,
    }
}

fn is_lua_block(tokens: &[Token]) -> bool {
    // … NAME_by_lua_block ARGS* {
    let mut it = tokens.iter().rev().skip(1);
    for t in it.by_ref() {
        match t {
            Token::Word {
                text,
                quoted: false,
                ..
            } if text.ends_with("_by_lua_block") || text == "lua_block" => return true,
            Token::Word { .. } => continue,
            _ => return false,
        }
    }
    false
}

/// Reads a Lua body from `i` (just after `{`) to its matching `}`, skipping braces in Lua
/// strings ('…', "…", [[…]], [=[…]=]) and comments (-- …, --[[ … ]]).
fn raw_block(src: &[u8], mut i: usize, line: &mut u32) -> Option<(String, usize)> {
    let start = i;
    let mut depth = 1;
    let n = src.len();
    while i < n {
        let b = src[i];
        match b {
            b'\n' => {
                *line += 1;
                i += 1;
            }
            b'{' => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((String::from_utf8_lossy(&src[start..i]).into_owned(), i + 1));
                }
                i += 1;
            }
            b'"' | b'\'' => {
                i += 1;
                while i < n && src[i] != b {
                    if src[i] == b'\\' {
                        i += 1;
                    }
                    if i < n && src[i] == b'\n' {
                        *line += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if src.get(i + 1) == Some(&b'-') => {
                i += 2;
                if let Some(end) = long_bracket(src, i, line) {
                    i = end;
                } else {
                    while i < n && src[i] != b'\n' {
                        i += 1;
                    }
                }
            }
            b'[' => match long_bracket(src, i, line) {
                Some(end) => i = end,
                None => i += 1,
            },
            _ => i += 1,
        }
    }
    None
}

/// `[[ … ]]` or `[==[ … ]==]` starting at `i`: returns the index after it.
fn long_bracket(src: &[u8], i: usize, line: &mut u32) -> Option<usize> {
    if src.get(i) != Some(&b'[') {
        return None;
    }
    let mut j = i + 1;
    let mut level = 0;
    while src.get(j) == Some(&b'=') {
        level += 1;
        j += 1;
    }
    if src.get(j) != Some(&b'[') {
        return None;
    }
    let mut close = vec![b']'];
    close.extend(std::iter::repeat_n(b'=', level));
    close.push(b']');
    let body = &src[j + 1..];
    let pos = memchr::memmem::find(body, &close)?;
    *line += body[..pos].iter().filter(|&&b| b == b'\n').count() as u32;
    Some(j + 1 + pos + close.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(src: &str) -> Vec<String> {
        tokenize(src.as_bytes())
            .0
            .into_iter()
            .map(|t| match t {
                Token::Word { text, .. } => text,
                Token::Semicolon(_) => ";".into(),
                Token::Open(_) => "{".into(),
                Token::Close(_) => "}".into(),
                Token::Raw { text, .. } => format!("RAW[{}]", text.trim()),
            })
            .collect()
    }

    #[test]
    fn quotes_escapes_comments_and_vars() {
        assert_eq!(
            words("set $a \"x;y # not a comment\"; # comment\nreturn 200 'it\\'s'; proxy_pass http://${b}x;"),
            ["set", "$a", "x;y # not a comment", ";", "return", "200", "it's", ";", "proxy_pass", "http://${b}x", ";"]
        );
    }

    #[test]
    fn lines_count_crlf_and_multiline_args() {
        let (t, e) = tokenize(b"a 1\r\n  2;\r\nb {\r\n}\r\n");
        assert!(e.is_none());
        assert_eq!(
            t[0],
            Token::Word {
                text: "a".into(),
                quoted: false,
                line: 1
            }
        );
        assert_eq!(
            t[2],
            Token::Word {
                text: "2".into(),
                quoted: false,
                line: 2
            }
        );
        assert_eq!(t[5], Token::Open(3));
        assert_eq!(t[6], Token::Close(4));
    }

    #[test]
    fn lua_block_braces_in_strings_and_comments() {
        let src =
            "content_by_lua_block {\n  local t = { a = \"}\" } -- }\n  ngx.say([[ } ]])\n}\nnext;";
        let w = words(src);
        assert_eq!(w[0], "content_by_lua_block");
        assert!(w[2].starts_with("RAW[local t"), "{w:?}");
        assert_eq!(&w[3..], ["}", "next", ";"]);
    }

    #[test]
    fn unterminated_quote_is_reported_at_the_end_of_file_like_nginx() {
        let (_, e) = tokenize(b"a;\nb \"open;\n\n");
        let e = e.unwrap();
        // nginx -t: unexpected end of file, expecting ";" or "}" in …:4
        assert_eq!(e.line, 4);
        assert!(e.message.contains("opened on line 2"), "{}", e.message);
    }

    #[test]
    fn non_utf8_bytes_survive() {
        let (t, e) = tokenize(b"add_header X \xff\xfe;");
        assert!(e.is_none());
        assert_eq!(t.len(), 4);
    }
}
