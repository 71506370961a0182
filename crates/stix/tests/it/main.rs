mod attack;
mod rules;
