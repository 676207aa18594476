//! The scanner: source text to tokens, on demand (clox's design).

// Token kinds and object kinds are named as in clox; one doc line each
// would repeat the name.
#![allow(missing_docs)]

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum T {
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    Comma,
    Dot,
    Minus,
    Plus,
    Semicolon,
    Slash,
    Star,
    Bang,
    BangEqual,
    Equal,
    EqualEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    Identifier,
    String,
    Number,
    And,
    Class,
    Else,
    False,
    For,
    Fun,
    If,
    Nil,
    Or,
    Print,
    Return,
    Super,
    This,
    True,
    Var,
    While,
    Error,
    Eof,
}

#[derive(Clone, Copy, Debug)]
pub struct Token<'s> {
    pub kind: T,
    /// The lexeme, or the error message for `T::Error`.
    pub text: &'s str,
    pub line: u32,
}

pub struct Scanner<'s> {
    src: &'s str,
    start: usize,
    cur: usize,
    line: u32,
}

impl<'s> Scanner<'s> {
    pub fn new(src: &'s str) -> Self {
        Scanner {
            src,
            start: 0,
            cur: 0,
            line: 1,
        }
    }

    fn peek(&self) -> u8 {
        *self.src.as_bytes().get(self.cur).unwrap_or(&0)
    }

    fn peek_next(&self) -> u8 {
        *self.src.as_bytes().get(self.cur + 1).unwrap_or(&0)
    }

    fn at_end(&self) -> bool {
        self.cur >= self.src.len()
    }

    fn advance(&mut self) -> u8 {
        let c = self.peek();
        self.cur += 1;
        c
    }

    fn matches(&mut self, c: u8) -> bool {
        if !self.at_end() && self.peek() == c {
            self.cur += 1;
            true
        } else {
            false
        }
    }

    fn make(&self, kind: T) -> Token<'s> {
        Token {
            kind,
            text: &self.src[self.start..self.cur],
            line: self.line,
        }
    }

    fn error(&self, msg: &'static str) -> Token<'s> {
        Token {
            kind: T::Error,
            text: msg,
            line: self.line,
        }
    }

    fn skip_whitespace(&mut self) {
        loop {
            match self.peek() {
                b' ' | b'\r' | b'\t' => self.cur += 1,
                b'\n' => {
                    self.line += 1;
                    self.cur += 1;
                }
                b'/' if self.peek_next() == b'/' => {
                    while self.peek() != b'\n' && !self.at_end() {
                        self.cur += 1;
                    }
                }
                _ => return,
            }
        }
    }

    pub fn next_token(&mut self) -> Token<'s> {
        self.skip_whitespace();
        self.start = self.cur;
        if self.at_end() {
            return self.make(T::Eof);
        }
        let c = self.advance();
        if c.is_ascii_alphabetic() || c == b'_' {
            while self.peek().is_ascii_alphanumeric() || self.peek() == b'_' {
                self.cur += 1;
            }
            return self.make(self.identifier_kind());
        }
        if c.is_ascii_digit() {
            while self.peek().is_ascii_digit() {
                self.cur += 1;
            }
            if self.peek() == b'.' && self.peek_next().is_ascii_digit() {
                self.cur += 1;
                while self.peek().is_ascii_digit() {
                    self.cur += 1;
                }
            }
            return self.make(T::Number);
        }
        match c {
            b'(' => self.make(T::LeftParen),
            b')' => self.make(T::RightParen),
            b'{' => self.make(T::LeftBrace),
            b'}' => self.make(T::RightBrace),
            b';' => self.make(T::Semicolon),
            b',' => self.make(T::Comma),
            b'.' => self.make(T::Dot),
            b'-' => self.make(T::Minus),
            b'+' => self.make(T::Plus),
            b'/' => self.make(T::Slash),
            b'*' => self.make(T::Star),
            b'!' => {
                let k = if self.matches(b'=') {
                    T::BangEqual
                } else {
                    T::Bang
                };
                self.make(k)
            }
            b'=' => {
                let k = if self.matches(b'=') {
                    T::EqualEqual
                } else {
                    T::Equal
                };
                self.make(k)
            }
            b'<' => {
                let k = if self.matches(b'=') {
                    T::LessEqual
                } else {
                    T::Less
                };
                self.make(k)
            }
            b'>' => {
                let k = if self.matches(b'=') {
                    T::GreaterEqual
                } else {
                    T::Greater
                };
                self.make(k)
            }
            b'"' => {
                while self.peek() != b'"' && !self.at_end() {
                    if self.peek() == b'\n' {
                        self.line += 1;
                    }
                    self.cur += 1;
                }
                if self.at_end() {
                    return self.error("Unterminated string.");
                }
                self.cur += 1;
                self.make(T::String)
            }
            _ => {
                // Step over a whole UTF-8 character so lexemes stay valid.
                while !self.src.is_char_boundary(self.cur) {
                    self.cur += 1;
                }
                self.error("Unexpected character.")
            }
        }
    }

    fn identifier_kind(&self) -> T {
        match &self.src[self.start..self.cur] {
            "and" => T::And,
            "class" => T::Class,
            "else" => T::Else,
            "false" => T::False,
            "for" => T::For,
            "fun" => T::Fun,
            "if" => T::If,
            "nil" => T::Nil,
            "or" => T::Or,
            "print" => T::Print,
            "return" => T::Return,
            "super" => T::Super,
            "this" => T::This,
            "true" => T::True,
            "var" => T::Var,
            "while" => T::While,
            _ => T::Identifier,
        }
    }
}
