//! The settings of the Mercure hub's 1.0 tokens (`edge::mercure`):
//! `push.mercure_issuer` and `push.mercure_audience`.

/// The most bytes an issuer or audience takes.
pub const MAX_IDENTIFIER: usize = 2048;

/// An issuer or audience (an `iss` or `aud` value, usually a URL): empty,
/// or at most [`MAX_IDENTIFIER`] bytes of printable ASCII without spaces.
pub(super) fn parse_identifier(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.len() > MAX_IDENTIFIER || v.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(format!(
            "use at most {MAX_IDENTIFIER} bytes of printable ASCII without spaces (a URL)"
        ));
    }
    Ok(v.to_owned())
}
