//! The page's requests once logged in, each answered in JSON:
//! `{"ok":true}`, or `{"ok":false,"error":"slow down"}` with the reason in
//! the terminal's words.
//!
//! - `POST /api/send` (form: `token`, `line`, `to`): one line typed by the
//!   user, handled like a terminal's, in the conversation `to` names
//!   (`#dev` or `@bob`). The answer is the line's outcome, so the page can
//!   mark its own message sent, or failed and why; what the line causes
//!   for others (and for the sender: a `/join`'s replay) comes on the event
//!   stream.
//! - `POST /api/members` (form: `token`, `room`) and `POST /api/rooms`
//!   (form: `token`): lists the page asks for by itself, when it shows a
//!   room and its sidebar. The answer comes on the event stream (a
//!   `users` or `rooms` event), in order with the joins and leaves that
//!   follow it, so the page's lists never go back in time. They are paid
//!   from the page's own budget, never from the user's rate limit.

use std::sync::Arc;

use super::{refuse_json, WebContext, UNKNOWN_SESSION};
use crate::commands::{self, Conversation, Outcome, Refusal};
use crate::context::Context;
use crate::json::Object;
use crate::net::LineRead;
use crate::protocol;
use crate::rate::Verdict;
use crate::registry::{ChatError, Session};
use crate::rooms::normalize_room_name;
use crate::web::http::{self, Request, Status};
use crate::web::sessions::WebSession;

/// A request's form fields, decoded.
type Form = Vec<(String, String)>;

/// `{"ok":true}`, or `{"ok":false,"error":...}` for a refusal.
fn outcome(result: Result<(), String>) -> Vec<u8> {
    let body = match result {
        Ok(()) => Object::new().boolean("ok", true).finish(),
        Err(why) => Object::new()
            .boolean("ok", false)
            .string("error", &why)
            .finish(),
    };
    http::json(Status::Ok, &body)
}

/// The form and session of an API request, or the answer to give.
fn open(request: &Request, web: &WebContext) -> Result<(Form, Arc<WebSession>), Vec<u8>> {
    let fields = http::parse_form(&request.body).map_err(|e| refuse_json(Status::BadRequest, e))?;
    let web_session = http::form_value(&fields, "token")
        .and_then(|token| web.sessions.get(token))
        .ok_or_else(|| refuse_json(Status::Unauthorized, UNKNOWN_SESSION))?;
    Ok((fields, web_session))
}

/// `POST /api/send`: one line, as a terminal would send it, typed in the
/// conversation `to` (none: the terminal's current room).
pub(super) fn send(request: &Request, web: &WebContext) -> Vec<u8> {
    let ctx = &web.chat;
    let (fields, web_session) = match open(request, web) {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let Some(line) = http::form_value(&fields, "line") else {
        return refuse_json(Status::BadRequest, "no line");
    };
    let at = match http::form_value(&fields, "to").map(conversation) {
        None | Some(Ok(None)) => None,
        Some(Ok(at)) => at,
        Some(Err(why)) => return refuse_json(Status::BadRequest, why),
    };
    let read = if line.len() > ctx.config.max_line_bytes {
        LineRead::TooLong
    } else {
        LineRead::Line(line.to_string())
    };
    let result = {
        let chat = &mut *web_session.chat();
        commands::handle_line_in(read, at.as_ref(), &mut chat.session, &mut chat.limiter, ctx)
    };
    match result {
        Ok(Outcome::Continue) => outcome(Ok(())),
        Ok(Outcome::Quit) => {
            web.sessions.end(ctx, &web_session.token, "quit");
            outcome(Ok(()))
        }
        Ok(Outcome::Gone) | Err(Refusal::Chat(ChatError::Gone)) => {
            web.sessions.end(ctx, &web_session.token, "was dropped");
            refuse_json(Status::Unauthorized, ChatError::Gone)
        }
        Err(refusal) => outcome(Err(refusal.to_string())),
    }
}

/// The conversation a `to` field names: `#room`, `@name`, or none (empty).
fn conversation(to: &str) -> Result<Option<Conversation>, String> {
    if to.is_empty() {
        return Ok(None);
    }
    if let Some(name) = to.strip_prefix('@') {
        protocol::validate_name(name).map_err(|e| e.to_string())?;
        return Ok(Some(Conversation::Person(name.to_string())));
    }
    if to.starts_with('#') {
        let room = normalize_room_name(to).map_err(|e| e.to_string())?;
        return Ok(Some(Conversation::Room(room)));
    }
    Err("to must be #room or @name".to_string())
}

/// `POST /api/members`: the members of `room` (capped like `/users`), as
/// a `users` event on the stream.
pub(super) fn members(request: &Request, web: &WebContext) -> Vec<u8> {
    page_request(request, web, |ctx, session, fields| {
        let room = http::form_value(fields, "room").unwrap_or_default();
        let room = normalize_room_name(room).map_err(|e| e.to_string())?;
        let users = ctx.registry.users(Some(&room)).map_err(|e| e.to_string())?;
        ctx.registry
            .reply(session, &users)
            .map_err(|e| e.to_string())
    })
}

/// `POST /api/rooms`: the room directory (the 50 biggest, as `/rooms`), as
/// a `rooms` event on the stream.
pub(super) fn rooms(request: &Request, web: &WebContext) -> Vec<u8> {
    page_request(request, web, |ctx, session, _| {
        let rooms = ctx.registry.rooms();
        ctx.registry
            .reply(session, &rooms)
            .map_err(|e| e.to_string())
    })
}

/// A request the page makes by itself: checked against the page's budget
/// (a script that loops on it gets `slow down` like any flood, but the
/// user's own lines never pay for it), then `act`, then the answer.
fn page_request(
    request: &Request,
    web: &WebContext,
    act: impl FnOnce(&Context, &Session, &[(String, String)]) -> Result<(), String>,
) -> Vec<u8> {
    let (fields, web_session) = match open(request, web) {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let chat = &mut *web_session.chat();
    if chat.page.check(std::time::Instant::now()) != Verdict::Allow {
        return outcome(Err(Refusal::SlowDown.to_string()));
    }
    outcome(act(&web.chat, &chat.session, &fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_names_a_room_or_a_person() {
        assert_eq!(
            conversation("#Dev"),
            Ok(Some(Conversation::Room("dev".into())))
        );
        assert_eq!(
            conversation("@bob"),
            Ok(Some(Conversation::Person("bob".into())))
        );
        assert_eq!(conversation(""), Ok(None));
    }

    #[test]
    fn a_bad_to_is_refused_with_the_rules() {
        assert!(conversation("dev").is_err());
        assert!(conversation("#no way").is_err());
        assert!(conversation("@").is_err());
        assert!(conversation("@two words").is_err());
    }
}
