//! Questions over the invented facts: one or two lookups and one arithmetic step, with the gold
//! integer computed from the facts, and the Python expression a careful agent would run.

use serde::{Deserialize, Serialize};

use super::draw::Draw;
use super::facts::{Attribute, Entity};

/// The year that "since" questions count to.
pub const REFERENCE_YEAR: i64 = 2025;

/// The arithmetic a question asks for. Options are data: the multiplier of
/// [`Operation::Scale`] is drawn per question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// `a + b`, same attribute of two entities.
    Sum,
    /// `a - b` with `a > b`, same attribute of two entities.
    Difference,
    /// `a * b`, same small attribute (shops, books) of two entities.
    Product,
    /// `a * k`, one entity.
    Scale(i64),
    /// `abs(a - b)` between two years (founding or birth) of two entities.
    YearGap,
    /// `REFERENCE_YEAR - a`, one year.
    Since,
}

/// Which operations questions use (the default is all of them, in equal shares).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationKind {
    /// [`Operation::Sum`].
    Sum,
    /// [`Operation::Difference`].
    Difference,
    /// [`Operation::Product`].
    Product,
    /// [`Operation::Scale`].
    Scale,
    /// [`Operation::YearGap`].
    YearGap,
    /// [`Operation::Since`].
    Since,
}

impl OperationKind {
    /// Every kind.
    pub const ALL: [OperationKind; 6] = [
        OperationKind::Sum,
        OperationKind::Difference,
        OperationKind::Product,
        OperationKind::Scale,
        OperationKind::YearGap,
        OperationKind::Since,
    ];
}

impl Operation {
    /// Applies the operation to the looked-up values (one or two, in question order).
    pub fn apply(self, values: &[i64]) -> Option<i64> {
        match (self, values) {
            (Operation::Sum, [a, b]) => a.checked_add(*b),
            (Operation::Difference, [a, b]) => a.checked_sub(*b),
            (Operation::Product, [a, b]) => a.checked_mul(*b),
            (Operation::YearGap, [a, b]) => a.checked_sub(*b).map(i64::abs),
            (Operation::Scale(k), [a]) => a.checked_mul(k),
            (Operation::Since, [a]) => REFERENCE_YEAR.checked_sub(*a),
            _ => None,
        }
    }

    /// The Python expression that computes it from the values (printed by the REPL-style tool).
    pub fn python(self, values: &[i64]) -> String {
        match (self, values) {
            (Operation::Sum, [a, b]) => format!("{a} + {b}"),
            (Operation::Difference, [a, b]) => format!("{a} - {b}"),
            (Operation::Product, [a, b]) => format!("{a} * {b}"),
            (Operation::YearGap, [a, b]) => format!("abs({a} - {b})"),
            (Operation::Scale(k), [a]) => format!("{a} * {k}"),
            (Operation::Since, [a]) => format!("{REFERENCE_YEAR} - {a}"),
            _ => String::new(),
        }
    }

    /// A one-line plan for the opening `<think>`. It names no entity: the searches then copy
    /// each name straight from the question, one copy instead of two (a small model that first
    /// copies names into the plan mixes their pieces, and its searches inherit the mix).
    pub(crate) fn plan(self, facts: &[Fact]) -> String {
        let words = |f: &Fact| f.attribute.query_word();
        match (self, facts) {
            (Operation::Sum, [a, _]) => format!("Add the {} of both.", words(a)),
            (Operation::Difference, [a, _]) => {
                format!("Subtract the second {} from the first.", words(a))
            }
            (Operation::Product, [a, _]) => format!("Multiply the {} of both.", words(a)),
            (Operation::Scale(k), [a]) => format!("Multiply the {} by {k}.", words(a)),
            (Operation::YearGap, [_, _]) => "Find both years, then subtract.".to_string(),
            (Operation::Since, [_]) => "Find the year, then subtract.".to_string(),
            _ => String::new(),
        }
    }
}

/// One looked-up fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// Entity name.
    pub entity: String,
    /// Which attribute.
    pub attribute: Attribute,
    /// Its value.
    pub value: i64,
    /// The document that states it.
    pub doc_id: String,
}

/// A generated question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyntheticQuestion {
    /// `train-{i}` or `eval-{i}`.
    pub id: String,
    /// The question text.
    pub text: String,
    /// The arithmetic step.
    pub operation: Operation,
    /// The facts to look up, in the order the question names them.
    pub facts: Vec<Fact>,
    /// The gold answer.
    pub gold: i64,
}

fn fact(e: &Entity, attribute: Attribute) -> Option<Fact> {
    Some(Fact {
        entity: e.name.clone(),
        attribute,
        value: e.value(attribute)?,
        doc_id: e.doc_id.clone(),
    })
}

/// Draws one question over `pool` (entities of one split); `None` when the pool cannot serve the
/// operation (e.g. fewer than two entities with the attribute).
pub(crate) fn draw_question(
    draw: &mut Draw,
    kind: OperationKind,
    pool: &[&Entity],
) -> Option<(String, Operation, Vec<Fact>)> {
    // Attributes each operation may use: products only over small counts, so answers stay short.
    let additive = [
        Attribute::Population,
        Attribute::Elevation,
        Attribute::Employees,
        Attribute::Shops,
        Attribute::Height,
        Attribute::Books,
    ];
    let small = [Attribute::Shops, Attribute::Books];
    let years = [Attribute::Founded, Attribute::Born];
    let with = |attrs: &[Attribute]| -> Vec<(&Entity, Attribute)> {
        pool.iter()
            .flat_map(|e| {
                attrs
                    .iter()
                    .filter(|a| e.value(**a).is_some())
                    .map(move |&a| (*e, a))
            })
            .collect()
    };
    let two = |draw: &mut Draw, attrs: &[Attribute], same_attr: bool| {
        let first = *draw.pick(&with(attrs))?;
        let others: Vec<(&Entity, Attribute)> = with(attrs)
            .into_iter()
            .filter(|(e, a)| e.name != first.0.name && (!same_attr || *a == first.1))
            .collect();
        let second = *draw.pick(&others)?;
        Some([fact(first.0, first.1)?, fact(second.0, second.1)?])
    };
    match kind {
        OperationKind::Sum | OperationKind::Difference | OperationKind::Product => {
            let attrs: &[Attribute] = if kind == OperationKind::Product {
                &small
            } else {
                &additive
            };
            let [mut a, mut b] = two(draw, attrs, true)?;
            let (op, word) = match kind {
                OperationKind::Sum => (Operation::Sum, "plus"),
                OperationKind::Difference => {
                    if a.value < b.value {
                        std::mem::swap(&mut a, &mut b);
                    }
                    (Operation::Difference, "minus")
                }
                _ => (Operation::Product, "times"),
            };
            let text = format!(
                "What is {} {word} {}?",
                a.attribute.phrase(&a.entity),
                b.attribute.phrase(&b.entity)
            );
            Some((text, op, vec![a, b]))
        }
        OperationKind::YearGap => {
            let [a, b] = two(draw, &years, false)?;
            let text = format!(
                "How many years passed between {} and {}?",
                a.attribute.event(&a.entity),
                b.attribute.event(&b.entity)
            );
            Some((text, Operation::YearGap, vec![a, b]))
        }
        OperationKind::Scale => {
            let (e, attr) = *draw.pick(&with(&additive))?;
            let k = draw.range(2, 9);
            let a = fact(e, attr)?;
            let text = format!("What is {} times {k}?", attr.phrase(&a.entity));
            Some((text, Operation::Scale(k), vec![a]))
        }
        OperationKind::Since => {
            let (e, attr) = *draw.pick(&with(&years))?;
            let a = fact(e, attr)?;
            let text = format!(
                "How many years passed between {} and {REFERENCE_YEAR}?",
                attr.event(&a.entity)
            );
            Some((text, Operation::Since, vec![a]))
        }
    }
}
