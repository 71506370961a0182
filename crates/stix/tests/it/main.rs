mod attack;
