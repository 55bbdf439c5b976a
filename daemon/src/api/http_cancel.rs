//! The one-click cancel page: `GET /cancel?token=T` shows the order and the lines that
//! can still be cancelled with a confirm button and changes nothing (mail scanners
//! follow links); `POST /cancel` (that form, the token in its body or the URL) records
//! the customer's request through the order's customer actor — its one owner — and
//! answers once the request is durable. The shop decides and tells the customer: this
//! page says so, and stockbell sends no confirmation of its own.
//!
//! Answers: 200 the form, the request recorded, or "already requested" (a second POST
//! records nothing); 400 a damaged or foreign link; 410 an expired link; 404 an order the
//! customer no longer has; 409 an order with nothing left to cancel (shipped, delivered,
//! cancelled or refunded); 503 when the daemon cannot take the request now.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};

use super::http::{escape, html, query_token, unavailable, HttpState};
use crate::actors::customer::CustomerItem;
use crate::actors::IngestItem;
use crate::clock::now_ms;
use crate::delivery::cancel_link::CancelToken;
use crate::delivery::link_token::TokenError;
use crate::domain::order::state::OrderState;
use crate::domain::profile::CustomerEvent;

const TITLE: &str = "ご注文のキャンセル / Cancel your order";

/// The token from a form body (`token=…`), else from the URL.
pub(super) fn form_token(body: &[u8], query: Option<String>) -> Option<String> {
    std::str::from_utf8(body)
        .ok()
        .and_then(query_token)
        .or(query)
}

fn verify(state: &HttpState, token: Option<&str>) -> Result<CancelToken, TokenError> {
    state
        .cancel
        .verify(token.ok_or(TokenError::Malformed)?, now_ms())
}

/// Where the order stands for the page.
enum Found {
    Open(Box<OrderState>),
    Requested,
    Closed,
    Missing,
}

async fn find(state: &HttpState, t: &CancelToken) -> Result<Found, Response<Full<Bytes>>> {
    let customer = match state.router.get_customer(t.customer_id.clone()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "The cancel page could not read the customer.");
            return Err(unavailable());
        }
    };
    let Some(order) = customer.and_then(|c| c.state.order(&t.order_id).cloned()) else {
        return Ok(Found::Missing);
    };
    Ok(if order.cancel_requested_at_ms.is_some() {
        Found::Requested
    } else if order.open_lines().is_empty() {
        Found::Closed
    } else {
        Found::Open(Box::new(order))
    })
}

/// `GET /cancel`: the confirmation form; nothing is recorded.
pub(super) async fn page(state: &HttpState, token: Option<&str>) -> Response<Full<Bytes>> {
    let t = match verify(state, token) {
        Ok(t) => t,
        Err(e) => return bad_token(&e),
    };
    let order = match find(state, &t).await {
        Ok(Found::Open(order)) => order,
        Ok(other) => return settled(&t, other),
        Err(resp) => return resp,
    };
    let mut lines = String::new();
    for l in order.lines.iter().filter(|l| l.status.is_open()) {
        let title = match state.router.get_product(l.placed.sku.clone()).await {
            Ok(Some(p)) if !p.state.catalogue.title.is_empty() => p.state.catalogue.title,
            _ => l.placed.sku.clone(),
        };
        lines.push_str(&format!(
            "<li>{} × {}</li>",
            escape(&title),
            l.placed.quantity
        ));
    }
    // The token goes back in the body; no action attribute, so the form posts to this
    // URL (its query holds the token too) even behind a proxy under a path prefix.
    let body = format!(
        "<p>ご注文番号 / Order <strong>{order}</strong></p>\
         <p>まだ発送されていない商品 / Not yet shipped:</p><ul>{lines}</ul>\
         <p>下のボタンでキャンセルをお店に申し込みます。キャンセルと返金はお店が判断し、\
         お店からご連絡します。</p>\
         <p>The button asks the shop to cancel these items. The shop decides on the \
         cancellation and refund and will contact you.</p>\
         <form method=\"post\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <button type=\"submit\">キャンセルを申し込む / Ask to cancel</button></form>",
        order = escape(&t.order_id),
        token = escape(token.unwrap_or_default()),
    );
    html(StatusCode::OK, TITLE, &body)
}

/// `POST /cancel`: records the request (once) and answers when it is durable.
pub(super) async fn request(state: &HttpState, token: Option<&str>) -> Response<Full<Bytes>> {
    let t = match verify(state, token) {
        Ok(t) => t,
        Err(e) => return bad_token(&e),
    };
    match find(state, &t).await {
        Ok(Found::Open(_)) => {}
        Ok(other) => return settled(&t, other),
        Err(resp) => return resp,
    }
    let item = IngestItem::Customer {
        id: t.customer_id.clone(),
        item: CustomerItem {
            index: 0,
            at_ms: now_ms(),
            event: CustomerEvent::CancelRequest {
                order_id: t.order_id.clone(),
            },
        },
    };
    match state.router.internal(vec![item]).await {
        Ok(ack) if ack.rejections.is_empty() => {
            tracing::info!(customer_id = %t.customer_id, order_id = %t.order_id, "A customer asked for their order to be cancelled.");
            let body = format!(
                "<p>ご注文 <strong>{order}</strong> のキャンセルをお店に申し込みました。\
                 キャンセルと返金はお店が判断し、お店からご連絡します。</p>\
                 <p>We have asked the shop to cancel order <strong>{order}</strong>. The \
                 shop decides on the cancellation and refund and will contact you; this \
                 page is not a confirmation that the order is cancelled.</p>",
                order = escape(&t.order_id)
            );
            html(StatusCode::OK, "申し込みました / Request sent", &body)
        }
        // Changed between the look and the request (shipped, forgotten): say how it is.
        Ok(_) => match find(state, &t).await {
            Ok(Found::Open(_)) => unavailable(),
            Ok(other) => settled(&t, other),
            Err(resp) => resp,
        },
        Err(e) => {
            tracing::warn!(order_id = %t.order_id, error = %e, "A cancellation request could not be recorded.");
            unavailable()
        }
    }
}

/// The page for an order that cannot be asked about (again).
fn settled(t: &CancelToken, found: Found) -> Response<Full<Bytes>> {
    let order = escape(&t.order_id);
    match found {
        Found::Requested => html(
            StatusCode::OK,
            "申し込み済み / Already requested",
            &format!(
                "<p>ご注文 <strong>{order}</strong> のキャンセルはすでに申し込まれています。\
                 お店からのご連絡をお待ちください。</p>\
                 <p>You have already asked the shop to cancel order <strong>{order}</strong>; \
                 the shop will contact you.</p>"
            ),
        ),
        Found::Closed => html(
            StatusCode::CONFLICT,
            "キャンセルできません / Cannot be cancelled",
            &format!(
                "<p>ご注文 <strong>{order}</strong> はすでに発送済み、お届け済み、\
                 またはキャンセル済みのため、ここからはキャンセルできません。</p>\
                 <p>Order <strong>{order}</strong> has already shipped, been delivered or \
                 been cancelled, so it can no longer be cancelled here. Please contact the \
                 shop.</p>"
            ),
        ),
        Found::Missing | Found::Open(_) => html(
            StatusCode::NOT_FOUND,
            "ご注文が見つかりません / Order not found",
            &format!(
                "<p>ご注文 <strong>{order}</strong> が見つかりません。お店にお問い合わせください。</p>\
                 <p>We cannot find order <strong>{order}</strong>. Please contact the shop.</p>"
            ),
        ),
    }
}

fn bad_token(e: &TokenError) -> Response<Full<Bytes>> {
    match e {
        TokenError::Expired => html(
            StatusCode::GONE,
            "期限切れのリンク / Expired link",
            "<p>このキャンセルリンクは有効期限が切れています。キャンセルをご希望の場合は\
             お店にお問い合わせください。</p>\
             <p>This cancel link has expired. To cancel, please contact the shop.</p>",
        ),
        TokenError::Malformed | TokenError::BadSignature => html(
            StatusCode::BAD_REQUEST,
            "無効なリンク / Invalid link",
            &format!(
                "<p>このリンクは使用できません。メールのリンクをもう一度開いてください。</p><p>{}</p>",
                escape(&e.to_string())
            ),
        ),
    }
}
