//! How a managed identity request is retried: the endpoints are local, but flaky while a VM
//! or container starts and while IMDS updates itself.
//!
//! The policy is MSAL .NET's, the most careful of the MSALs here (MSAL Python retries nothing
//! and throttles instead): `docs/imds_retry_based_on_errors.md` and
//! `src/client/Microsoft.Identity.Client/Http/Retry/` (`ImdsRetryPolicy`,
//! `DefaultRetryPolicy`) in AzureAD/microsoft-authentication-library-for-dotnet, which MSAL Go
//! follows too (`apps/managedidentity/managedidentity.go`, its `retryCodesForIMDS` and
//! `retryStatusCodes`):
//!
//! | source | statuses retried | tries after the first | waits |
//! |---|---|---|---|
//! | IMDS | 404, 408, 429, 5xx | 3 | 1 s, 2 s, 4 s |
//! | IMDS | 410 (IMDS updating) | 7 | 10 s each (70 s in all) |
//! | the others | 404, 408, 429, 500, 503, 504 | 3 | 1 s each |
//!
//! Unlike MSAL .NET and MSAL Node, a `Retry-After` the endpoint sends is honoured (as seconds
//! or an HTTP date) when it asks for longer than the policy's wait, up to [`MAX_WAIT`]; an
//! endpoint asking for more than that gets its answer returned as the error rather than a
//! caller held for minutes. Waits go through the client's [`Clock`](crate::clock::Clock), and the total time
//! spent waiting is bounded by [`MAX_TOTAL_WAIT`]. Transport failures (nothing answered) are
//! not retried here: the HTTP client already tries a failed connection once more, and a source
//! that does not answer must fail fast (a laptop has no IMDS).

use std::time::{Duration, SystemTime};

/// The longest single wait (a larger `Retry-After` ends the retries).
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(60);
/// The longest total wait of one acquisition.
pub(crate) const MAX_TOTAL_WAIT: Duration = Duration::from_secs(90);

/// Which retry table applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// IMDS (VM, VM scale set, AKS node).
    Imds,
    /// App Service, Azure ML, Service Fabric, Azure Arc, Cloud Shell.
    Default,
}

/// The retry state of one acquisition.
#[derive(Debug)]
pub(crate) struct Retry {
    policy: Policy,
    /// Retries made so far (410s counted apart on IMDS).
    tries: u32,
    gone_tries: u32,
    waited: Duration,
}

impl Retry {
    pub(crate) fn new(policy: Policy) -> Retry {
        Retry {
            policy,
            tries: 0,
            gone_tries: 0,
            waited: Duration::ZERO,
        }
    }

    /// How long to wait before asking again after `status` (with the response's
    /// `Retry-After`, if any), or `None` to give up and return the answer.
    pub(crate) fn next_wait(
        &mut self,
        status: u16,
        retry_after: Option<&str>,
        now: SystemTime,
    ) -> Option<Duration> {
        let base = match (self.policy, status) {
            (Policy::Imds, 410) => {
                if self.gone_tries >= 7 {
                    return None;
                }
                self.gone_tries += 1;
                Duration::from_secs(10)
            }
            (Policy::Imds, 404 | 408 | 429 | 500..=599) => {
                if self.tries >= 3 {
                    return None;
                }
                self.tries += 1;
                Duration::from_secs(1 << (self.tries - 1))
            }
            (Policy::Default, 404 | 408 | 429 | 500 | 503 | 504) => {
                if self.tries >= 3 {
                    return None;
                }
                self.tries += 1;
                Duration::from_secs(1)
            }
            _ => return None,
        };
        let asked = retry_after.and_then(|v| parse_retry_after(v, now));
        let wait = match asked {
            Some(a) if a > MAX_WAIT => return None,
            Some(a) => a.max(base),
            None => base,
        };
        let total = self.waited.checked_add(wait)?;
        if total > MAX_TOTAL_WAIT {
            return None;
        }
        self.waited = total;
        Some(wait)
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3); `None` when unreadable.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate(v)?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 §5.6.7 requires
/// senders to use.
fn httpdate(v: &str) -> Option<SystemTime> {
    let rest = v.get(5..)?; // "Sun, "
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let h: u64 = hms.next()?.parse().ok()?;
    let m: u64 = hms.next()?.parse().ok()?;
    let s: u64 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    if !(1970..=9999).contains(&year) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), all in range for years 1970-9999.
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + i64::try_from(day).ok()? - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    let secs = days
        .checked_mul(86_400)?
        .checked_add(h * 3600 + m * 60 + s)?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    fn waits(policy: Policy, status: u16) -> Vec<u64> {
        let mut r = Retry::new(policy);
        std::iter::from_fn(|| r.next_wait(status, None, NOW).map(|d| d.as_secs())).collect()
    }

    #[test]
    fn imds_backs_off_exponentially_and_waits_out_updates() {
        assert_eq!(waits(Policy::Imds, 500), [1, 2, 4]);
        assert_eq!(waits(Policy::Imds, 404), [1, 2, 4]);
        assert_eq!(waits(Policy::Imds, 429), [1, 2, 4]);
        assert_eq!(waits(Policy::Imds, 410), [10; 7]);
        assert!(waits(Policy::Imds, 400).is_empty());
        assert!(waits(Policy::Imds, 401).is_empty());
    }

    #[test]
    fn other_sources_retry_three_times_a_second_apart() {
        for s in [404, 408, 429, 500, 503, 504] {
            assert_eq!(waits(Policy::Default, s), [1, 1, 1], "{s}");
        }
        for s in [400, 401, 403, 410, 501, 502] {
            assert!(waits(Policy::Default, s).is_empty(), "{s}");
        }
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let mut r = Retry::new(Policy::Default);
        assert_eq!(
            r.next_wait(429, Some("7"), NOW),
            Some(Duration::from_secs(7))
        );
        // Shorter than the policy's wait: the policy wins.
        assert_eq!(
            r.next_wait(429, Some("0"), NOW),
            Some(Duration::from_secs(1))
        );
        let mut r = Retry::new(Policy::Default);
        assert_eq!(r.next_wait(429, Some("61"), NOW), None);
        let mut r = Retry::new(Policy::Default);
        assert_eq!(
            r.next_wait(503, Some("soon"), NOW),
            Some(Duration::from_secs(1))
        );
        // Total bound: 60 + 60 > 90.
        let mut r = Retry::new(Policy::Default);
        assert!(r.next_wait(429, Some("60"), NOW).is_some());
        assert_eq!(r.next_wait(429, Some("60"), NOW), None);
    }

    #[test]
    fn http_dates_are_read() {
        let t = httpdate("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            784_111_777
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        for bad in [
            "",
            "Sun, 06 Nov 1994",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 99999 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
        ] {
            assert!(httpdate(bad).is_none(), "{bad}");
        }
    }
}
