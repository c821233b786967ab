//! The guest side of the `unified-security:connector` contract (`wit/connector.wit`), so that a
//! connector crate is only its vendor logic:
//!
//! - [`wit`]: the unified model, generated from the contract;
//! - [`Connector`] and [`export_connector!`]: implement the trait, export the type, and the SDK
//!   keeps the configured instance between calls (exports take no `self`);
//! - [`http`]: the HTTP seam: [`http::Http`], WASI HTTP behind it in a component, a scripted
//!   double in native tests, and [`http::Retrying`] for runtimes that do not retry;
//! - [`retry`], [`cursor`] and [`errors`]: the retry policy and `Retry-After`, opaque cursors,
//!   and HTTP statuses turned into [`wit::ConnectorError`]s that name their endpoint.
//!
//! Without the default `guest` feature only [`retry`] is built, the policy the reference host
//! also applies to the requests it carries.

pub mod retry;

#[cfg(feature = "guest")]
wit_bindgen::generate!({
    path: "../wit",
    world: "security-connector",
    additional_derives: [PartialEq],
    pub_export_macro: true,
    export_macro_name: "__export_world",
    default_bindings_module: "connector_sdk",
});

/// The unified model's types, as generated from the WIT contract.
#[cfg(feature = "guest")]
pub use unified_security::connector::types as wit;

#[cfg(feature = "guest")]
pub mod cursor;
#[cfg(feature = "guest")]
pub mod errors;
#[cfg(feature = "guest")]
pub mod http;

#[cfg(feature = "guest")]
use wit::{
    AssetPage, CheckReport, ConnectorError, ConnectorSpec, FindingPage, FindingQuery, RuntimeInfo,
    Setting,
};

/// A connector: its self-description, and the calls of a configured instance. Every call gets
/// the HTTP seam it must use; the SDK supplies WASI HTTP, with retries when the runtime does not
/// retry itself.
#[cfg(feature = "guest")]
pub trait Connector: Sized + 'static {
    fn describe() -> ConnectorSpec;

    /// Validates the non-secret settings. `runtime` says what the runtime does for the component.
    fn configure(runtime: &RuntimeInfo, settings: Vec<Setting>) -> Result<Self, ConnectorError>;

    fn check(&mut self, http: &mut dyn http::Http) -> Result<CheckReport, ConnectorError>;

    fn list_resources(
        &mut self,
        http: &mut dyn http::Http,
        cursor: Option<String>,
    ) -> Result<AssetPage, ConnectorError>;

    fn list_findings(
        &mut self,
        http: &mut dyn http::Http,
        query: FindingQuery,
    ) -> Result<FindingPage, ConnectorError>;
}

/// Exports a [`Connector`] as the component's `connector` interface.
#[cfg(feature = "guest")]
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        type __ConnectorSdkExport = $crate::adapter::Adapter<$connector>;
        $crate::__export_world!(__ConnectorSdkExport with_types_in $crate);
    };
}

#[cfg(feature = "guest")]
#[doc(hidden)]
pub mod adapter {
    //! The generated `Guest` trait over a [`Connector`]: the configured instance lives in a
    //! thread-local between calls. A runtime configures every instance it uses (the reference
    //! host lists resources and findings on two fresh ones), so nothing survives from one
    //! tenant to the next.

    use std::any::Any;
    use std::cell::RefCell;
    use std::marker::PhantomData;

    use super::*;
    use crate::exports::unified_security::connector::connector::Guest;

    thread_local! {
        static CONFIGURED: RefCell<Option<(bool, Box<dyn Any>)>> = const { RefCell::new(None) };
    }

    pub struct Adapter<C>(PhantomData<C>);

    fn with<C: Connector, T>(
        call: impl FnOnce(&mut C, &mut dyn http::Http) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        CONFIGURED.with_borrow_mut(|slot| {
            let Some((retries_transient, state)) = slot.as_mut() else {
                return Err(ConnectorError::InvalidConfig(
                    "`configure` was not called".to_string(),
                ));
            };
            let connector = state
                .downcast_mut::<C>()
                .expect("the exported connector type");
            let mut wasi = http::WasiHttp::new();
            if *retries_transient {
                call(connector, &mut wasi)
            } else {
                call(connector, &mut http::Retrying::new(wasi))
            }
        })
    }

    impl<C: Connector> Guest for Adapter<C> {
        fn describe() -> ConnectorSpec {
            C::describe()
        }

        fn configure(runtime: RuntimeInfo, settings: Vec<Setting>) -> Result<(), ConnectorError> {
            let connector = C::configure(&runtime, settings)?;
            CONFIGURED.set(Some((runtime.retries_transient, Box::new(connector))));
            Ok(())
        }

        fn check() -> Result<CheckReport, ConnectorError> {
            with::<C, _>(|c, http| c.check(http))
        }

        fn list_resources(cursor: Option<String>) -> Result<AssetPage, ConnectorError> {
            with::<C, _>(|c, http| c.list_resources(http, cursor))
        }

        fn list_findings(query: FindingQuery) -> Result<FindingPage, ConnectorError> {
            with::<C, _>(|c, http| c.list_findings(http, query))
        }
    }
}
