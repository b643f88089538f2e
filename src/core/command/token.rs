//! `//token new [LABEL]`, `//token list`, `//token revoke ID`: a group's
//! API tokens (scope `group:NAME`), made by its admins.

use super::{Command, Parsed, Refusal, Reply};
use crate::core::i18n::{t, Lang};
use crate::core::model::{Millis, StoreOp, TokenRecord};
use crate::core::stanza;
use crate::core::{Core, Output};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCmd {
    New(String),
    List,
    Revoke(String),
}

pub(super) fn parse(words: &[&str], _: &str) -> Parsed {
    match words {
        ["new", label @ ..] => {
            let label = label.join(" ");
            if label.chars().count() > 100 {
                return Err(Refusal::say("token-label-long", &[]));
            }
            Ok(Command::Token(TokenCmd::New(label)))
        }
        ["list"] => Ok(Command::Token(TokenCmd::List)),
        ["revoke", id] => Ok(Command::Token(TokenCmd::Revoke(id.to_lowercase()))),
        _ => Err(Refusal::Usage),
    }
}

impl Core {
    pub(super) fn cmd_token(
        &mut self,
        now: Millis,
        group: &str,
        c: TokenCmd,
        lang: Lang,
        out: &mut Vec<Output>,
    ) -> Reply {
        let scope = format!("group:{group}");
        match c {
            TokenCmd::New(label) => {
                let token = self.next_token();
                let hash = hex::encode(Sha256::digest(token.as_bytes()));
                let rec = TokenRecord {
                    id: hash.chars().take(10).collect(),
                    scope: scope.clone(),
                    label,
                    hash,
                    created_at: now,
                };
                let id = rec.id.clone();
                out.push(Output::Store(StoreOp::AddToken(rec.clone())));
                self.tokens.push(rec);
                Some(t!(
                    lang,
                    "token-made",
                    id = id,
                    scope = scope.as_str(),
                    token = token
                ))
            }
            TokenCmd::List => {
                let mine: Vec<String> = self
                    .tokens
                    .iter()
                    .filter(|t| t.scope == scope)
                    .map(|r| {
                        let made = stanza::human_time(r.created_at);
                        let line = if r.label.is_empty() {
                            t!(lang, "token-line", id = r.id.as_str(), made = made)
                        } else {
                            let label = r.label.as_str();
                            t!(
                                lang,
                                "token-line-label",
                                id = r.id.as_str(),
                                made = made,
                                label = label
                            )
                        };
                        format!("\n{line}")
                    })
                    .collect();
                if mine.is_empty() {
                    return Some(t!(lang, "token-none"));
                }
                Some(format!("{}{}", t!(lang, "token-list"), mine.concat()))
            }
            TokenCmd::Revoke(id) => {
                let Some(i) = self
                    .tokens
                    .iter()
                    .position(|t| t.id == id && t.scope == scope)
                else {
                    return Some(t!(lang, "token-unknown", id = id.as_str()));
                };
                self.tokens.remove(i);
                out.push(Output::Store(StoreOp::RevokeToken { id: id.clone() }));
                Some(t!(lang, "token-revoked", id = id.as_str()))
            }
        }
    }
}
