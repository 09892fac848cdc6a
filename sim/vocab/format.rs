//! How scenario files are read, shared by the scenario loader and by every module that reads a
//! part of the format on its own (spec snippets in tests, study files).

/// How scenario files are read: optional fields may be written bare, and an enum variant
/// wrapping a struct may be written with the struct's fields directly (`trace(path: "…")`).
pub fn ron_options() -> ron::Options {
    use ron::extensions::Extensions;
    ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME | Extensions::UNWRAP_VARIANT_NEWTYPES)
}
