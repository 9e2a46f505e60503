//! The problem a battle is fought on: how a start names one (an id, a difficulty, or
//! nothing: any problem), and how a player's source for it becomes a judge submission.
//! Hidden tests stay here: clients only ever get `Problem::public`.

use rand::seq::IndexedRandom;

use super::error::BattleError;
use crate::services::judge::Submission;
use crate::services::problems::submission::to_judge;
use crate::services::problems::{Bank, Difficulty, Language, Problem};

/// Shortest and longest battle a start may ask for (`durationS`).
pub const DURATION_S: (u64, u64) = (30, 7200);

/// What a start asks for. Everything optional: a random problem of any difficulty and
/// the configured duration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choice {
    pub problem_id: Option<String>,
    pub difficulty: Option<Difficulty>,
    pub duration_s: Option<u64>,
}

impl Choice {
    /// From the wire: `difficulty` is `easy|medium|hard|any` (any = none).
    pub fn parse(
        problem_id: Option<String>,
        difficulty: Option<&str>,
        duration_s: Option<u64>,
    ) -> Result<Self, BattleError> {
        let difficulty = match difficulty {
            None | Some("any") => None,
            Some(d) => Some(Difficulty::parse(d).ok_or_else(|| {
                BattleError::BadRequest(format!(
                    "difficulty must be easy, medium, hard or any (got {:?})",
                    crate::base::error::echo(d)
                ))
            })?),
        };
        if let Some(d) = duration_s
            && !(DURATION_S.0..=DURATION_S.1).contains(&d)
        {
            return Err(BattleError::BadRequest(format!(
                "durationS must be between {} and {}",
                DURATION_S.0, DURATION_S.1
            )));
        }
        Ok(Self {
            problem_id,
            difficulty,
            duration_s,
        })
    }

    /// The problem this choice names, or a random one that fits it.
    pub fn pick<'a>(&self, bank: &'a Bank) -> Result<&'a Problem, BattleError> {
        if let Some(id) = &self.problem_id {
            let p = bank.get(id).ok_or_else(|| {
                BattleError::NotFound(format!("problem {:?}", crate::base::error::echo(id)))
            })?;
            if self.difficulty.is_some_and(|d| d != p.difficulty) {
                return Err(BattleError::BadRequest(format!(
                    "problem {id} is {}, not the difficulty asked for",
                    p.difficulty
                )));
            }
            return Ok(p);
        }
        let fits: Vec<&Problem> = match self.difficulty {
            Some(d) => bank.by_difficulty(d).collect(),
            None => bank.list().iter().collect(),
        };
        fits.choose(&mut rand::rng()).copied().ok_or_else(|| {
            BattleError::NotFound("a problem of that difficulty in the bank".into())
        })
    }
}

/// `source` in `language` for `problem`, as the judge takes it: every test (examples
/// first, then the hidden ones), the problem's limits and comparator.
pub fn submission(problem: &Problem, language: Language, source: &str) -> Submission {
    to_judge(
        language,
        source,
        &problem.all_tests(),
        problem.limits,
        problem.comparator,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_pick() {
        let bank = Bank::embedded().unwrap();
        let c = Choice::parse(Some("a-plus-b".into()), None, Some(60)).unwrap();
        assert_eq!(c.pick(&bank).unwrap().id, "a-plus-b");
        let easy = Choice::parse(None, Some("easy"), None).unwrap();
        assert_eq!(easy.pick(&bank).unwrap().difficulty, Difficulty::Easy);
        assert!(Choice::parse(None, Some("any"), None).unwrap().difficulty.is_none());
        assert!(Choice::parse(None, Some("brutal"), None).is_err());
        assert!(Choice::parse(None, None, Some(5)).is_err());
        let missing = Choice::parse(Some("nope".into()), None, None).unwrap();
        assert!(matches!(missing.pick(&bank), Err(BattleError::NotFound(_))));
        let wrong = Choice::parse(Some("a-plus-b".into()), Some("hard"), None).unwrap();
        assert!(matches!(wrong.pick(&bank), Err(BattleError::BadRequest(_))));
    }

    #[test]
    fn a_submission_carries_every_test_and_the_limits() {
        let bank = Bank::embedded().unwrap();
        let p = bank.get("a-plus-b").unwrap();
        let s = submission(p, Language::Python, "print(1)");
        assert_eq!(s.tests.len(), p.examples.len() + p.tests.len());
        assert_eq!(s.limits.cpu_ms, u64::from(p.limits.time_ms));
        assert!(s.check().is_ok());
    }
}
