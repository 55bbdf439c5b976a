use super::*;
use crate::store::test_db::TestStore;

fn text(name: &str, m: &str) -> DefinitionText {
    DefinitionText {
        name: name.into(),
        match_: m.into(),
        description: "d".into(),
        webhook: false,
    }
}

fn config_def() -> Definition {
    compile(text("cfg", "coupon"), Source::Config).expect("valid")
}

#[tokio::test]
async fn create_update_delete_persist_and_name_the_problem() {
    let ts = TestStore::new();
    {
        let defs = SegmentDefs::load(vec![config_def()], ts.store().clone(), ts.writer.clone())
            .expect("load");
        assert_eq!(defs.list().len(), 1 + 11);
        let d = defs.create(text("vip", "orders>=2")).await.expect("create");
        assert_eq!(d.canonical(), "orders >= 2");
        let e = defs.create(text("vip", "coupon")).await.expect_err("dup");
        assert!(matches!(e, SegmentDefError::Exists(_, "api")), "{e}");
        let e = defs.create(text("cfg", "coupon")).await.expect_err("dup");
        assert!(matches!(e, SegmentDefError::Exists(_, "config")), "{e}");
        let e = defs
            .create(text("rfm:lost", "coupon"))
            .await
            .expect_err("dup");
        assert!(matches!(e, SegmentDefError::Exists(_, "builtin")), "{e}");
        let e = defs.create(text("x", "orders >>")).await.expect_err("bad");
        assert!(e.to_string().starts_with("match: at 8:"), "{e}");
        let e = defs.update(text("cfg", "coupon")).await.expect_err("ro");
        assert!(matches!(e, SegmentDefError::ReadOnly(..)), "{e}");
        let e = defs
            .update(text("rfm:lost", "coupon"))
            .await
            .expect_err("ro");
        assert!(matches!(e, SegmentDefError::ReadOnly(..)), "{e}");
        let e = defs.update(text("nope", "coupon")).await.expect_err("nf");
        assert!(matches!(e, SegmentDefError::NotFound(_)), "{e}");
        defs.update(text("vip", "orders >= 3"))
            .await
            .expect("update");
        defs.create(text("gone", "coupon")).await.expect("create");
        let e = defs
            .delete("gone", &["price_drop".into()])
            .await
            .expect_err("used");
        assert!(e.to_string().contains("price_drop"), "{e}");
        defs.delete("gone", &[]).await.expect("delete");
        assert!(defs.get("gone").is_none());
    }
    // Loaded again: the API definitions are back.
    let defs = SegmentDefs::load(vec![], ts.store().clone(), ts.writer.clone()).expect("load");
    let vip = defs.get("vip").expect("stored");
    assert_eq!(
        (vip.source, vip.canonical().as_str()),
        (Source::Api, "orders >= 3")
    );
    assert!(defs.get("gone").is_none());
    assert_eq!(
        defs.get("rfm:champions").map(|d| d.source),
        Some(Source::Builtin)
    );
    drop(defs);
    ts.close().await;
}
