//! The invented world of one seed: entities (towns, companies, writers) with integer attributes,
//! and the search corpus that states them — one document per entity plus distractor documents
//! that mention an entity next to a number that answers nothing.

use serde::{Deserialize, Serialize};

use super::draw::Draw;

/// What an entity is; it fixes which attributes it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntityKind {
    /// Founding year, population, elevation.
    Town,
    /// Founding year, employees, shops.
    Company,
    /// Birth year, height, books written.
    Writer,
}

impl EntityKind {
    /// All kinds, in draw order.
    pub const ALL: [EntityKind; 3] = [EntityKind::Town, EntityKind::Company, EntityKind::Writer];

    /// The attributes an entity of this kind has, in the order its document states them.
    pub fn attributes(self) -> &'static [Attribute] {
        match self {
            EntityKind::Town => &[
                Attribute::Founded,
                Attribute::Population,
                Attribute::Elevation,
            ],
            EntityKind::Company => &[Attribute::Founded, Attribute::Employees, Attribute::Shops],
            EntityKind::Writer => &[Attribute::Born, Attribute::Height, Attribute::Books],
        }
    }
}

/// A numeric attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Attribute {
    /// Inhabitants of a town.
    Population,
    /// Founding year of a town or company.
    Founded,
    /// Elevation of a town in metres.
    Elevation,
    /// Employees of a company.
    Employees,
    /// Shops a company runs.
    Shops,
    /// Birth year of a writer.
    Born,
    /// Height of a writer in centimetres.
    Height,
    /// Books a writer wrote.
    Books,
}

impl Attribute {
    /// Inclusive range of drawn values.
    pub fn range(self) -> (i64, i64) {
        match self {
            Attribute::Population => (1_200, 98_000),
            Attribute::Founded => (1150, 1990),
            Attribute::Elevation => (15, 2_900),
            Attribute::Employees => (20, 9_000),
            Attribute::Shops => (3, 400),
            Attribute::Born => (1820, 1995),
            Attribute::Height => (150, 205),
            Attribute::Books => (2, 60),
        }
    }

    /// Whether the value is a calendar year (used by year-gap questions).
    pub fn is_year(self) -> bool {
        matches!(self, Attribute::Founded | Attribute::Born)
    }

    /// The word a search query uses for it; the entity's document contains it.
    pub fn query_word(self) -> &'static str {
        match self {
            Attribute::Population => "population",
            Attribute::Founded => "founded",
            Attribute::Elevation => "elevation",
            Attribute::Employees => "employees",
            Attribute::Shops => "shops",
            Attribute::Born => "born",
            Attribute::Height => "height",
            Attribute::Books => "books",
        }
    }

    /// The noun phrase of a question: `the population of Velmora`.
    pub fn phrase(self, name: &str) -> String {
        match self {
            Attribute::Population => format!("the population of {name}"),
            Attribute::Founded => format!("the founding year of {name}"),
            Attribute::Elevation => format!("the elevation of {name} in metres"),
            Attribute::Employees => format!("the number of employees of {name}"),
            Attribute::Shops => format!("the number of shops of {name}"),
            Attribute::Born => format!("the birth year of {name}"),
            Attribute::Height => format!("the height of {name} in cm"),
            Attribute::Books => format!("the number of books by {name}"),
        }
    }

    /// The event of a year attribute: `the founding of Velmora`, `the birth of Kelvane`.
    pub fn event(self, name: &str) -> String {
        match self {
            Attribute::Born => format!("the birth of {name}"),
            _ => format!("the founding of {name}"),
        }
    }
}

/// One invented entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Its name (one invented word).
    pub name: String,
    /// What it is.
    pub kind: EntityKind,
    /// Its attribute values, in [`EntityKind::attributes`] order.
    pub values: Vec<(Attribute, i64)>,
    /// Id of the document that states its attributes.
    pub doc_id: String,
    /// True for entities reserved to evaluation questions.
    pub held_out: bool,
    /// True for entities reserved to RL questions (never in SFT demonstrations nor evaluation).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rl_only: bool,
}

impl Entity {
    /// The value of `attribute`, if the entity has it.
    pub fn value(&self, attribute: Attribute) -> Option<i64> {
        self.values
            .iter()
            .find(|(a, _)| *a == attribute)
            .map(|&(_, v)| v)
    }

    /// The id of the one-fact document stating `attribute` (the fact-document layout).
    pub fn fact_doc_id(&self, attribute: Attribute) -> String {
        format!("{}-{}", self.doc_id, attribute.query_word())
    }

    /// The one-sentence document stating only `attribute`, with the attribute's query word
    /// (so a query `name word` ranks it first among the entity's documents).
    pub fn fact_text(&self, attribute: Attribute) -> String {
        let n = &self.name;
        let v = self.value(attribute).unwrap_or_default();
        match attribute {
            Attribute::Founded => format!("{n} was founded in {v}."),
            Attribute::Population => format!("{n} has a population of {v}."),
            Attribute::Elevation => format!("{n} lies at an elevation of {v} m."),
            Attribute::Employees => format!("{n} has {v} employees."),
            Attribute::Shops => format!("{n} runs {v} shops."),
            Attribute::Born => format!("{n} was born in {v}."),
            Attribute::Height => format!("{n} has a height of {v} cm."),
            Attribute::Books => format!("{n} wrote {v} books."),
        }
    }

    /// The plain-sentence text of its document.
    pub fn document_text(&self) -> String {
        let n = &self.name;
        let v = |a| self.value(a).unwrap_or_default();
        match self.kind {
            EntityKind::Town => format!(
                "{n} is a town founded in {}, with a population of {} and an elevation of {} m.",
                v(Attribute::Founded),
                v(Attribute::Population),
                v(Attribute::Elevation)
            ),
            EntityKind::Company => format!(
                "{n} is a company founded in {}, with {} employees and {} shops.",
                v(Attribute::Founded),
                v(Attribute::Employees),
                v(Attribute::Shops)
            ),
            EntityKind::Writer => format!(
                "{n} is a writer born in {}, with a height of {} cm and {} books written.",
                v(Attribute::Born),
                v(Attribute::Height),
                v(Attribute::Books)
            ),
        }
    }
}

/// One corpus document, in the JSONL corpus format of arpo-tools' `SearchTool`
/// (`{"id","title","text"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusDoc {
    /// Unique id: `e{i}` for entity documents, `d{i}` for distractors.
    pub id: String,
    /// Title.
    pub title: String,
    /// Body.
    pub text: String,
}

/// Draws an entity of `kind` named `name`.
pub(crate) fn draw_entity(draw: &mut Draw, name: String, kind: EntityKind, index: usize) -> Entity {
    let values = kind
        .attributes()
        .iter()
        .map(|&a| {
            let (lo, hi) = a.range();
            (a, draw.range(lo, hi))
        })
        .collect();
    Entity {
        name,
        kind,
        values,
        doc_id: format!("e{index}"),
        held_out: false,
        rl_only: false,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A distractor about `entity`: shares its name and shows a plausible number, but states none of
/// its attributes and uses none of the attribute query words, so a query `name attribute` still
/// ranks the entity's own document first.
pub(crate) fn draw_distractor(draw: &mut Draw, entity: &Entity, index: usize) -> CorpusDoc {
    let n = &entity.name;
    let (title, text) = match (entity.kind, draw.below(2)) {
        (EntityKind::Town, 0) => (
            "Harvest festival".to_string(),
            format!(
                "The harvest festival of {n} is held each {} and draws {} visitors.",
                draw.pick(&MONTHS).copied().unwrap_or("May"),
                draw.range(300, 20_000)
            ),
        ),
        (EntityKind::Town, _) => (
            "Town museum".to_string(),
            format!(
                "The museum of {n} opened in {} and holds {} objects.",
                draw.range(1850, 2015),
                draw.range(100, 9_000)
            ),
        ),
        (EntityKind::Company, 0) => (
            "Trade fair".to_string(),
            format!(
                "At the trade fair of {}, {n} sold {} crates.",
                draw.range(1950, 2024),
                draw.range(40, 5_000)
            ),
        ),
        (EntityKind::Company, _) => (
            "Delivery vans".to_string(),
            format!(
                "{n} keeps {} delivery vans on the road.",
                draw.range(5, 700)
            ),
        ),
        (EntityKind::Writer, 0) => (
            "Literary prize".to_string(),
            format!(
                "{n} won a literary prize in {} worth {} coins.",
                draw.range(1850, 2024),
                draw.range(100, 9_000)
            ),
        ),
        (EntityKind::Writer, _) => (
            "Letters".to_string(),
            format!("{n} sent {} letters to friends.", draw.range(20, 4_000)),
        ),
    };
    CorpusDoc {
        id: format!("d{index}"),
        title,
        text,
    }
}
