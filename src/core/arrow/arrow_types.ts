import * as arrow from "apache-arrow";
import { type DataType, decimalParts, type StructField, type StructType } from "../schema/schema.ts";

/**
 * The Arrow type a Delta type is stored as. Lists name their element `element` and maps
 * their entries `key_value` with `key` and `value`, as the Parquet spec and Spark do.
 */
export function arrowType(type: DataType): arrow.DataType {
  if (typeof type === "string") {
    switch (type) {
      case "string": return new arrow.Utf8();
      case "long": return new arrow.Int64();
      case "integer": return new arrow.Int32();
      case "short": return new arrow.Int16();
      case "byte": return new arrow.Int8();
      case "double": return new arrow.Float64();
      case "float": return new arrow.Float32();
      case "boolean": return new arrow.Bool();
      case "date": return new arrow.DateDay();
      case "timestamp": return new arrow.Timestamp(arrow.TimeUnit.MICROSECOND, "UTC");
      // No zone: Parquet's TIMESTAMP(isAdjustedToUTC = false), as Spark writes TIMESTAMP_NTZ.
      case "timestamp_ntz": return new arrow.Timestamp(arrow.TimeUnit.MICROSECOND);
      case "binary": return new arrow.Binary();
    }
    const dec = decimalParts(type);
    if (dec) return new arrow.Decimal(dec.scale, dec.precision, 128);
    throw new RangeError(`No Arrow type for Delta type '${type}'`);
  }
  switch (type.type) {
    case "struct": return new arrow.Struct(type.fields.map(arrowField));
    case "array": return new arrow.List(new arrow.Field("element", arrowType(type.elementType), type.containsNull));
    case "map":
      return new arrow.Map_(
        new arrow.Field(
          "key_value",
          new arrow.Struct([
            new arrow.Field("key", arrowType(type.keyType), false),
            new arrow.Field("value", arrowType(type.valueType), type.valueContainsNull),
          ]),
          false,
        ) as arrow.Field<arrow.Struct<{ key: arrow.DataType; value: arrow.DataType }>>,
        false,
      );
  }
}

export function arrowField(f: StructField): arrow.Field {
  return new arrow.Field(f.name, arrowType(f.type), f.nullable);
}

export function arrowSchema(schema: StructType): arrow.Schema {
  return new arrow.Schema(schema.fields.map(arrowField));
}
