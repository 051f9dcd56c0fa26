//! Reading a Corefile: [`lexer`] splits text into [`Token`]s, [`parser`] groups them into
//! [`ServerBlock`]s (expanding imports, snippets and environment variables), and a
//! [`Dispenser`] hands one directive's tokens to the plugin that parses them.

pub mod dispenser;
pub mod lexer;
pub mod parser;

pub use dispenser::Dispenser;
pub use lexer::{Token, tokenize};
pub use parser::{ParseOptions, ServerBlock, parse, replace_env_vars};

#[cfg(test)]
mod tests;
