//! Parquet copies of CSV tables (`runs.parquet`, `points.parquet`), for analysis in pandas,
//! polars, DuckDB or Spark without parsing text.
//!
//! The CSV file is read as a stream and written in row groups of [`ROW_GROUP`] rows, so memory
//! does not grow with the table. Each column has a type: whole numbers are `INT64`, measured
//! figures optional `DOUBLE` (an empty CSV cell is a null), everything else a UTF-8 string. The
//! columns keep the CSV's names. Files are uncompressed, which keeps the writer to the `parquet`
//! crate's core (no codec libraries to build) and the bytes the same for the same table.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use super::OutputError;

/// Rows per row group.
pub const ROW_GROUP: usize = 4096;

/// The type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// A whole number (`INT64`); every cell has one.
    Integer,
    /// A measured figure (`DOUBLE`); an empty cell is a null.
    Float,
    /// Text (UTF-8 `BYTE_ARRAY`).
    Text,
}

/// Writes the CSV table at `csv_path` as Parquet at `target`, with a type per column.
pub fn csv_to_parquet(csv_path: &Path, target: &Path, types: &[ColumnType]) -> Result<(), OutputError> {
    let fail = |path: &Path, e: &dyn std::fmt::Display| OutputError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut reader = csv::Reader::from_path(csv_path).map_err(|e| fail(csv_path, &e))?;
    let header = reader.headers().map_err(|e| fail(csv_path, &e))?.clone();
    if header.len() != types.len() {
        return Err(fail(
            csv_path,
            &format!("{} columns, but {} types", header.len(), types.len()),
        ));
    }
    let schema = schema(&header, types).map_err(|e| fail(target, &e))?;
    let properties = WriterProperties::builder()
        .set_created_by(format!("hybridsim {}", env!("CARGO_PKG_VERSION")))
        .build();
    let file = File::create(target).map_err(|e| OutputError::Io {
        path: target.to_path_buf(),
        source: e,
    })?;
    let mut writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(properties))
        .map_err(|e| fail(target, &e))?;
    let mut columns: Vec<Column> = types.iter().map(|t| Column::new(*t)).collect();
    let mut rows = 0;
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader.read_record(&mut record).map_err(|e| fail(csv_path, &e))?;
        if more {
            for (index, (column, cell)) in columns.iter_mut().zip(record.iter()).enumerate() {
                column
                    .push(cell)
                    .map_err(|e| fail(csv_path, &format!("column {index}, row {}: {e}", rows + 1)))?;
            }
            rows += 1;
        }
        if (rows == ROW_GROUP || !more) && rows > 0 {
            write_group(&mut writer, &columns).map_err(|e| fail(target, &e))?;
            columns.iter_mut().for_each(Column::clear);
            rows = 0;
        }
        if !more {
            break;
        }
    }
    writer.close().map_err(|e| fail(target, &e))?;
    Ok(())
}

/// One column's cells of the row group being filled, already in their Parquet type, so that a
/// row group takes 8 to 9 bytes a number rather than a string's.
enum Column {
    Integer(Vec<i64>),
    Float(Vec<Option<f64>>),
    Text(Vec<ByteArray>),
}

impl Column {
    fn new(kind: ColumnType) -> Self {
        match kind {
            ColumnType::Integer => Column::Integer(Vec::new()),
            ColumnType::Float => Column::Float(Vec::new()),
            ColumnType::Text => Column::Text(Vec::new()),
        }
    }

    fn push(&mut self, cell: &str) -> Result<(), std::num::ParseIntError> {
        match self {
            Column::Integer(values) => values.push(cell.parse()?),
            Column::Float(values) => values.push(cell.parse().ok()),
            Column::Text(values) => values.push(ByteArray::from(cell)),
        }
        Ok(())
    }

    fn clear(&mut self) {
        match self {
            Column::Integer(values) => values.clear(),
            Column::Float(values) => values.clear(),
            Column::Text(values) => values.clear(),
        }
    }
}

fn schema(header: &csv::StringRecord, types: &[ColumnType]) -> parquet::errors::Result<Type> {
    let fields = header
        .iter()
        .zip(types)
        .map(|(name, kind)| {
            let field = match kind {
                ColumnType::Integer => Type::primitive_type_builder(name, PhysicalType::INT64)
                    .with_repetition(Repetition::REQUIRED),
                ColumnType::Float => Type::primitive_type_builder(name, PhysicalType::DOUBLE)
                    .with_repetition(Repetition::OPTIONAL),
                ColumnType::Text => Type::primitive_type_builder(name, PhysicalType::BYTE_ARRAY)
                    .with_repetition(Repetition::REQUIRED)
                    .with_logical_type(Some(LogicalType::String)),
            };
            field.build().map(Arc::new)
        })
        .collect::<parquet::errors::Result<Vec<_>>>()?;
    Type::group_type_builder("schema").with_fields(fields).build()
}

fn write_group(writer: &mut SerializedFileWriter<File>, columns: &[Column]) -> parquet::errors::Result<()> {
    let mut group = writer.next_row_group()?;
    let mut index = 0;
    while let Some(mut column) = group.next_column()? {
        match &columns[index] {
            Column::Integer(values) => {
                column.typed::<Int64Type>().write_batch(values, None, None)?;
            }
            Column::Float(cells) => {
                let values: Vec<f64> = cells.iter().flatten().copied().collect();
                let defined: Vec<i16> = cells.iter().map(|v| i16::from(v.is_some())).collect();
                column
                    .typed::<DoubleType>()
                    .write_batch(&values, Some(&defined), None)?;
            }
            Column::Text(values) => {
                column.typed::<ByteArrayType>().write_batch(values, None, None)?;
            }
        }
        column.close()?;
        index += 1;
    }
    group.close()?;
    Ok(())
}
