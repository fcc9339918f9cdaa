//! The environment, client id and realm of access tokens, shared by the tokens that have them.
//! A cache holds thousands of tokens of a few applications: each token refers to one copy of
//! these texts instead of making three of its own. Each thread keeps the last text of each kind
//! it filed or read, so consecutive tokens of one application (how tokens are filed and how
//! a cache file lists them) share without a lookup.

use std::cell::RefCell;
use std::sync::Arc;

/// Which of an access token's texts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TextKind {
    Environment = 0,
    ClientId = 1,
    Realm = 2,
}

thread_local! {
    static RECENT: RefCell<[Option<Arc<str>>; 3]> = const { RefCell::new([None, None, None]) };
}

/// `text`, shared with the last text of its kind this thread made when they are equal.
pub(crate) fn shared_text(kind: TextKind, text: &str) -> Arc<str> {
    RECENT
        .try_with(|recent| {
            let mut recent = recent.borrow_mut();
            let slot = &mut recent[kind as usize];
            match slot {
                Some(kept) if **kept == *text => kept.clone(),
                _ => {
                    let made: Arc<str> = text.into();
                    *slot = Some(made.clone());
                    made
                }
            }
        })
        // While the thread's storage is being torn down: a copy of its own.
        .unwrap_or_else(|_| text.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_of_a_kind_share_one_copy_and_others_do_not() {
        let a = shared_text(TextKind::Realm, "contoso");
        let b = shared_text(TextKind::Realm, "contoso");
        assert!(Arc::ptr_eq(&a, &b));
        let env = shared_text(TextKind::Environment, "contoso");
        assert!(!Arc::ptr_eq(&a, &env), "kinds are kept apart");
        let other = shared_text(TextKind::Realm, "Contoso");
        assert_eq!(&*other, "Contoso", "letter for letter");
        assert!(!Arc::ptr_eq(&a, &other));
        assert!(Arc::ptr_eq(
            &other,
            &shared_text(TextKind::Realm, "Contoso")
        ));
    }
}
