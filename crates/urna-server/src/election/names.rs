//! `GET /election/names` (spec/api.md §A2): the manifest's display texts
//! as JSON, so a voter's device shows names, not ids, in the voter's
//! language (spec/record.md §R2.5) without parsing TOML. Everything here is
//! a view of the published manifest bytes; nothing is added.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use urna_election::Manifest;
use urna_election::manifest::Title;

use crate::AppState;
use crate::error::ApiError;

/// `{ "ru": …, "en": … }` with only the languages given, or `null`.
fn texts(t: Option<&Title>) -> Value {
    match t {
        None => Value::Null,
        Some(t) => {
            let mut m = serde_json::Map::new();
            if let Some(ru) = &t.ru {
                m.insert("ru".into(), json!(ru));
            }
            if let Some(en) = &t.en {
                m.insert("en".into(), json!(en));
            }
            Value::Object(m)
        }
    }
}

/// The JSON answer for a manifest.
pub(crate) fn names_json(m: &Manifest) -> Value {
    let s = m.schedule();
    let regions: Vec<Value> = m
        .regions()
        .iter()
        .map(|r| json!({ "id": r.id, "name": r.name, "names": texts(r.names.as_ref()) }))
        .collect();
    let districts: Vec<Value> = m
        .districts()
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "name": d.name,
                "names": texts(d.names.as_ref()),
                "region": m.regions()[d.region].id,
            })
        })
        .collect();
    let precincts: Vec<Value> = m
        .precincts()
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "names": texts(p.names.as_ref()),
                "district": m.districts()[p.district].id,
            })
        })
        .collect();
    let contests: Vec<Value> = m
        .contests()
        .iter()
        .map(|c| {
            let options: Vec<Value> = c
                .options
                .iter()
                .map(|o| {
                    json!({
                        "id": o.id,
                        "name": o.name,
                        "names": texts(o.names.as_ref()),
                        "party": o.party,
                        "parties": texts(o.parties.as_ref()),
                        "descriptions": texts(o.descriptions.as_ref()),
                    })
                })
                .collect();
            json!({
                "id": c.id,
                "title": c.title,
                "titles": texts(c.titles.as_ref()),
                "descriptions": texts(c.descriptions.as_ref()),
                "options": options,
            })
        })
        .collect();
    json!({
        "election": m.id(),
        "title": texts(Some(m.title())),
        "schedule": {
            "time_zone": s.time_zone,
            "applications_open": s.applications_open.to_rfc3339_utc(),
            "applications_close": s.applications_close.to_rfc3339_utc(),
            "voting_opens": s.voting_opens.to_rfc3339_utc(),
            "voting_closes": s.voting_closes.to_rfc3339_utc(),
        },
        "regions": regions,
        "districts": districts,
        "precincts": precincts,
        "contests": contests,
    })
}

/// `GET /election/names`.
pub(crate) async fn names(State(state): State<AppState>) -> Result<Response, ApiError> {
    let m = state.election.shared.manifest.get().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_manifest",
            "No election manifest has been published on this server.",
        )
    })?;
    Ok(Json(names_json(m)).into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_follow_the_manifest() {
        let bytes = include_bytes!("../../../../examples/moscow-2020-constitution.toml");
        let m = Manifest::from_bytes(bytes).unwrap();
        let v = names_json(&m);
        assert_eq!(v["election"], "ru-2020-constitution");
        assert_eq!(v["regions"][0]["names"]["en"], "Moscow");
        assert_eq!(v["districts"][0]["region"], "msk");
        assert_eq!(v["precincts"][0]["names"], Value::Null);
        assert_eq!(v["contests"][0]["options"][0]["names"]["en"], "Yes");
        assert_eq!(v["contests"][0]["options"][0]["parties"], Value::Null);
        assert_eq!(v["schedule"]["voting_closes"], "2020-06-30T17:00:00Z");
        assert_eq!(v["title"]["ru"].as_str().unwrap().chars().next(), Some('О'));
    }
}
