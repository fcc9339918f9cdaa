//! The list `accounts()` returns: shared, so asking again before every silent call is free.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::result::Account;

/// The accounts in the cache, as
/// [`PublicClientApplication::accounts`](crate::PublicClientApplication::accounts) returns them.
///
/// It reads like a slice (`accounts.first()`, `accounts.len()`, `&accounts[0]`,
/// `for a in &accounts`) and is shared with the application's memo of the last answer: cloning
/// it, or asking the application again while the cache is unchanged, copies nothing. Iterating
/// it by value (`accounts.into_iter().next()`) clones each account it yields.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AccountList(Arc<[Account]>);

impl AccountList {
    /// The accounts as a slice.
    pub fn as_slice(&self) -> &[Account] {
        &self.0
    }
}

impl Deref for AccountList {
    type Target = [Account];

    fn deref(&self) -> &[Account] {
        &self.0
    }
}

impl fmt::Debug for AccountList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl From<Vec<Account>> for AccountList {
    fn from(accounts: Vec<Account>) -> Self {
        Self(accounts.into())
    }
}

impl PartialEq<[Account]> for AccountList {
    fn eq(&self, other: &[Account]) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<Vec<Account>> for AccountList {
    fn eq(&self, other: &Vec<Account>) -> bool {
        *self.0 == **other
    }
}

impl<'a> IntoIterator for &'a AccountList {
    type Item = &'a Account;
    type IntoIter = std::slice::Iter<'a, Account>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for AccountList {
    type Item = Account;
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter {
            list: self.0,
            next: 0,
        }
    }
}

/// The by-value iterator of an [`AccountList`]: yields a clone of each account.
#[derive(Debug, Clone)]
pub struct IntoIter {
    list: Arc<[Account]>,
    next: usize,
}

impl Iterator for IntoIter {
    type Item = Account;

    fn next(&mut self) -> Option<Account> {
        let account = self.list.get(self.next)?.clone();
        self.next += 1;
        Some(account)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.list.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for IntoIter {}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str) -> Account {
        Account {
            home_account_id: format!("{name}.tenant"),
            environment: "login.microsoftonline.com".into(),
            realm: "tenant".into(),
            username: format!("{name}@contoso.example"),
            local_account_id: name.into(),
            authority_type: "MSSTS".into(),
            account_source: None,
        }
    }

    #[test]
    fn reads_as_a_slice_and_iterates_by_reference_and_by_value() {
        let list = AccountList::from(vec![account("a"), account("b")]);
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].username, "b@contoso.example");
        assert_eq!(list, vec![account("a"), account("b")]);
        let names: Vec<&str> = (&list)
            .into_iter()
            .map(|a| a.local_account_id.as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
        let mut owned = list.clone().into_iter();
        assert_eq!(owned.len(), 2);
        assert_eq!(owned.next(), Some(account("a")));
        assert_eq!(owned.size_hint(), (1, Some(1)));
        assert_eq!(owned.next(), Some(account("b")));
        assert_eq!(owned.next(), None);
        assert!(AccountList::default().is_empty());
    }

    #[test]
    fn clones_share_the_accounts() {
        let list = AccountList::from(vec![account("a")]);
        let again = list.clone();
        assert!(std::ptr::eq(list.as_slice(), again.as_slice()));
    }
}
