"""Study design: a questionnaire that measures beliefs and experience, and the sample it needs."""

from .bank import item_bank
from .instrument import Questionnaire, questionnaire
from .planning import SamplePlan, sample_size

__all__ = ["Questionnaire", "SamplePlan", "item_bank", "questionnaire", "sample_size"]
