//! `sendBatch`: post the prepared operations and commit each answer.
//! See the contract's "After sending" and "API errors".

use super::request::{self, OrderRequest};
use super::step::Step;
use super::target::Target;
use super::window::{with_rate_limit_waits, Window};
use super::Report;
use crate::api::{Accepted, ApiError, Client};
use crate::error::{Error, Result};
use crate::invoice::{self, Document};
use crate::model::{Operation, Row};
use crate::queue::{Change, QueueStore};
use crate::retry::{self, RetryPolicy};
use crate::settings::SettingsSource;
use serde_json::Value;
use std::collections::BTreeMap;

pub fn send(
    store: &dyn QueueStore,
    client: &Client,
    settings: &dyn SettingsSource,
    target: Target<'_>,
    operations: &BTreeMap<Operation, Vec<Row>>,
    claim: Option<&str>,
) -> Result<Report> {
    let mut step = Step::new(store, claim);
    if operations.values().all(Vec::is_empty) {
        return Ok(step.report);
    }
    target.validate()?;
    let policy = RetryPolicy::read(settings)?;

    // Elements first: a row whose snapshot cannot give one fails at once.
    let (requests, bad) = request::build(operations, |id| step.take(id));
    step.commit(&bad, crate::time::now())?;
    if requests.is_empty() {
        return Ok(step.report);
    }

    let outcome: Result<()> = crate::runtime::block_on(async {
        let mut window = Window::new(requests, |r| post(client, target, r));
        while let Some(ready) = window.ready().await {
            let now = crate::time::now();
            let mut stop = None;
            for (request, answer) in ready {
                // Each answer in its own transaction, at once: a kill loses
                // at most the answers not committed yet.
                match answer {
                    Ok(accepted) => {
                        step.commit(&accepted_changes(&request, &accepted, &target), now)?;
                    }
                    Err(ApiError::Unauthorized { status }) => stop = Some(target.refused(status)),
                    // A wrong store id: every order would be refused alike;
                    // no order is to blame, the run stops.
                    Err(err @ ApiError::UnknownStore { .. }) => {
                        stop = Some(Error::Api(target.clean(&err.message())))
                    }
                    Err(err) => {
                        let msg = target.clean(&err.message());
                        step.report
                            .errors
                            .push(format!("{}: {msg}", request.op.as_str()));
                        let op = request.op;
                        let verdict =
                            policy.request_failed(target.mode, request.orders, &err, &msg, now);
                        step.commit(&verdict.changes, now)?;
                        for orders in verdict.again {
                            window.push(OrderRequest { op, orders });
                        }
                    }
                }
            }
            if let Some(err) = stop {
                return Err(err);
            }
        }
        Ok(())
    });
    step.finish(outcome)
}

/// Sends one request, waiting out 429s as the policy allows.
async fn post(
    client: &Client,
    target: Target<'_>,
    request: OrderRequest,
) -> (OrderRequest, std::result::Result<Accepted, ApiError>) {
    let answer = {
        let elements: Vec<&Value> = request.orders.iter().map(|e| &e.element).collect();
        if request.op == Operation::UploadDocuments {
            match documents_of(&request) {
                Ok(files) => {
                    let files: Vec<&Document> = files.iter().collect();
                    with_rate_limit_waits(target.mode, &client.pace(target.token), || {
                        client.post_documents(target.token, target.store_id, &elements, &files)
                    })
                    .await
                }
                Err(rejected) => Err(rejected),
            }
        } else {
            with_rate_limit_waits(target.mode, &client.pace(target.token), || {
                client.post_operation(target.token, target.store_id, request.op, &elements)
            })
            .await
        }
    };
    (request, answer)
}

/// The PDFs of an `upload-documents` request, decoded from the rows'
/// base64 only now (one request's worth in memory at a time). A row whose
/// stored bytes cannot be decoded is refused like a 400 naming its order:
/// the policy fails that order and sends the others.
fn documents_of(request: &OrderRequest) -> std::result::Result<Vec<Document>, ApiError> {
    let mut files = Vec::new();
    for order in &request.orders {
        let holder =
            serde_json::json!({ "documents": order.documents.clone().unwrap_or(Value::Null) });
        match invoice::decode(&holder) {
            Ok(docs) => files.extend(docs),
            Err(e) => {
                return Err(ApiError::Rejected {
                    status: 400,
                    detail: format!("order {}: {}", order.ident_text(), e.message()),
                })
            }
        }
    }
    Ok(files)
}

/// A 202: each order done (ignored) or sent ([`retry::accepted`]), its
/// operation recorded first when `prepare` did not.
fn accepted_changes(
    request: &OrderRequest,
    accepted: &Accepted,
    target: &Target<'_>,
) -> Vec<(i64, Change)> {
    let clean = |m: &str| target.clean(m);
    let mut changes = Vec::with_capacity(request.orders.len());
    for order in &request.orders {
        if order.recorded != Some(request.op) {
            // A done or sent row keeps the operation it was sent with.
            changes.push((order.id, Change::SetOperation(Some(request.op))));
        }
        changes.push((order.id, retry::accepted(order, accepted, &clean)));
    }
    changes
}
