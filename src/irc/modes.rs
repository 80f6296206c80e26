//! Channel modes: the letters of `MODE #room +o-b alice bob!*@*`, parsed
//! into values before anything is changed (parse, then act).
//!
//! A mode string packs several changes into one word, and some letters
//! take the next parameter of the message: `+ob alice bob!*@*` is two
//! changes with one parameter each, `+t` one change with none. lanchat's
//! rooms know six letters (see [`ModeChange`]); IRC servers know dozens,
//! and a client that sends one we do not know gets 472 for that letter
//! while the others still take effect, as on any IRC server.

/// One change (or question) a `MODE #room` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModeChange {
    /// `+o nick` / `-o nick`: a room operator.
    Operator { nick: String, on: bool },
    /// `+v nick` / `-v nick`: a voice in a moderated room.
    Voice { nick: String, on: bool },
    /// `+b mask` / `-b mask`: a ban.
    Ban { mask: String, on: bool },
    /// `b` or `+b` without a mask: show the ban list.
    BanList,
    /// `+t` / `-t`: only operators set the topic.
    TopicLock(bool),
    /// `+m` / `-m`: only operators and the voiced speak.
    Moderated(bool),
    /// `+n` / `-n`: no messages from outside (always on here).
    NoExternal(bool),
    /// A letter we do not know (472).
    Unknown(char),
    /// `o` or `v` without its nick: ignored, as IRC servers do.
    MissingParameter(char),
}

/// Parses a mode string and its parameters (`"+ob"`, `["alice",
/// "bob!*@*"]`) into changes, in order.
pub(crate) fn parse(modes: &str, params: &[String]) -> Vec<ModeChange> {
    let mut params = params.iter();
    let mut on = true;
    let mut changes = Vec::new();
    for letter in modes.chars() {
        let change = match letter {
            '+' | '-' => {
                on = letter == '+';
                continue;
            }
            'o' | 'v' => match params.next() {
                Some(nick) if letter == 'o' => ModeChange::Operator {
                    nick: nick.clone(),
                    on,
                },
                Some(nick) => ModeChange::Voice {
                    nick: nick.clone(),
                    on,
                },
                None => ModeChange::MissingParameter(letter),
            },
            'b' => match params.next() {
                Some(mask) => ModeChange::Ban {
                    mask: mask.clone(),
                    on,
                },
                None => ModeChange::BanList,
            },
            't' => ModeChange::TopicLock(on),
            'm' => ModeChange::Moderated(on),
            'n' => ModeChange::NoExternal(on),
            other => ModeChange::Unknown(other),
        };
        changes.push(change);
    }
    changes
}

/// The nick a ban mask names, if it names one: `bob!*@*` or plain `bob`.
/// lanchat keeps no user names or hosts that a ban could match (hosts are
/// cloaked), so a ban names a nick and nothing else.
pub(crate) fn banned_nick(mask: &str) -> Option<&str> {
    let nick = match mask.split_once('!') {
        Some((nick, "*@*")) => nick,
        Some(_) => return None,
        None => mask,
    };
    let plain = !nick.is_empty() && !nick.contains(['*', '?', '@']);
    plain.then_some(nick)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[&str]) -> Vec<String> {
        list.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn letters_take_their_parameters_in_order() {
        assert_eq!(
            parse("+ob-t", &params(&["alice", "bob!*@*"])),
            vec![
                ModeChange::Operator {
                    nick: "alice".into(),
                    on: true
                },
                ModeChange::Ban {
                    mask: "bob!*@*".into(),
                    on: true
                },
                ModeChange::TopicLock(false),
            ]
        );
        assert_eq!(
            parse("-o", &params(&["alice"])),
            vec![ModeChange::Operator {
                nick: "alice".into(),
                on: false
            }]
        );
    }

    #[test]
    fn voice_takes_a_nick_and_moderation_none() {
        assert_eq!(
            parse("+vm", &params(&["bob"])),
            vec![
                ModeChange::Voice {
                    nick: "bob".into(),
                    on: true
                },
                ModeChange::Moderated(true),
            ]
        );
        assert_eq!(parse("-v", &[]), vec![ModeChange::MissingParameter('v')]);
    }

    #[test]
    fn a_ban_without_a_mask_asks_for_the_list() {
        assert_eq!(parse("b", &[]), vec![ModeChange::BanList]);
        assert_eq!(parse("+b", &[]), vec![ModeChange::BanList]);
    }

    #[test]
    fn unknown_letters_and_missing_nicks_are_reported_and_the_rest_kept() {
        assert_eq!(
            parse("+kto", &params(&[])),
            vec![
                ModeChange::Unknown('k'),
                ModeChange::TopicLock(true),
                ModeChange::MissingParameter('o')
            ]
        );
        assert_eq!(parse("+n", &[]), vec![ModeChange::NoExternal(true)]);
    }

    #[test]
    fn ban_masks_name_nicks_only() {
        assert_eq!(banned_nick("bob!*@*"), Some("bob"));
        assert_eq!(banned_nick("BOB"), Some("BOB"));
        for other in ["*!*@host", "bob!~bob@*", "b*!*@*", "", "!*@*", "bob@host"] {
            assert_eq!(banned_nick(other), None, "{other}");
        }
    }
}
