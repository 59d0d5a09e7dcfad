//! Human durations (`500ms`, `5s`, `1m30s`) and byte sizes (`4MiB`) as the binaries' flags take
//! them. Both binaries use these parsers; they live here because the library has no shared module
//! for flags.

use std::time::Duration;

const NANOS_PER_MILLI: u128 = 1_000_000;
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Parses a duration the way Go's `time.ParseDuration` reads one (the notation gRPC users know
/// from grpc-go flags): one or more `<number><unit>` pieces, units `ms`, `s`, `m`, `h`, the
/// number possibly with a fraction (`1.5s`), e.g. `500ms`, `5s`, `1m30s`. A bare `0` is zero.
///
/// ```
/// use std::time::Duration;
/// use greeter_examples::server::units::parse_duration;
///
/// assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
/// assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert!(parse_duration("5").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = |why: &str| format!("invalid duration {text:?}: {why} (e.g. 500ms, 5s, 1m30s)");
    if text.is_empty() {
        return Err(invalid("empty"));
    }
    let mut nanos: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos = match unit {
            "ms" => NANOS_PER_MILLI,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3600 * NANOS_PER_SEC,
            "" => return Err(invalid("a number needs a unit")),
            _ => return Err(invalid(&format!("unknown unit {unit:?}"))),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(invalid(&format!("a number is missing before {unit:?}")));
        }
        if fraction.contains('.') || fraction.len() > 9 {
            return Err(invalid(&format!("malformed number {number:?}")));
        }
        let whole: u128 = match whole {
            "" => 0,
            digits => digits.parse().map_err(|_| invalid("number too large"))?,
        };
        let fraction_nanos = match fraction {
            "" => 0,
            digits => {
                let scale = 10u128.pow(u32::try_from(digits.len()).unwrap_or(9));
                let value: u128 = digits.parse().map_err(|_| invalid("malformed number"))?;
                value * unit_nanos / scale
            }
        };
        nanos = whole
            .checked_mul(unit_nanos)
            .and_then(|n| n.checked_add(fraction_nanos))
            .and_then(|n| n.checked_add(nanos))
            .ok_or_else(|| invalid("too long"))?;
        rest = after;
    }
    let secs = u64::try_from(nanos / NANOS_PER_SEC).map_err(|_| invalid("too long"))?;
    // Below one second, so it fits.
    let subsec = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Ok(Duration::new(secs, subsec))
}

/// Parses a byte size: a number of bytes, or one with a `KiB` or `MiB` suffix (`4MiB`).
///
/// ```
/// use greeter_examples::server::units::parse_size;
///
/// assert_eq!(parse_size("4MiB"), Ok(4 * 1024 * 1024));
/// assert_eq!(parse_size("1024"), Ok(1024));
/// assert!(parse_size("4MB").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let invalid =
        || format!("invalid size {text:?}: expected bytes, KiB or MiB (e.g. 4MiB, 65536)");
    let (number, unit) = match text {
        _ if text.ends_with("KiB") => (&text[..text.len() - 3], 1024),
        _ if text.ends_with("MiB") => (&text[..text.len() - 3], 1024 * 1024),
        _ => (text, 1),
    };
    let number: usize = number.trim().parse().map_err(|_| invalid())?;
    number.checked_mul(unit).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("5s"), Ok(ms(5000)));
        assert_eq!(parse_duration("1m"), Ok(ms(60_000)));
        assert_eq!(parse_duration("2h"), Ok(ms(7_200_000)));
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration(".25s"), Ok(ms(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration(" 3s "), Ok(ms(3000)));
    }

    #[test]
    fn bad_durations_are_errors_naming_the_input() {
        for bad in [
            "",
            "5",
            "s",
            "5x",
            "5 s",
            "-5s",
            "1.2.3s",
            "abc",
            "5sms",
            ".s",
            "1.0000000001s",
        ] {
            let error = parse_duration(bad).expect_err(bad);
            assert!(error.contains(&format!("{:?}", bad.trim())), "{error}");
        }
        let huge = format!("{}h", u128::MAX);
        assert!(parse_duration(&huge).is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("4MiB"), Ok(4 * 1024 * 1024));
        for bad in ["", "4MB", "-1", "MiB", "1.5MiB", "99999999999999999999MiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
